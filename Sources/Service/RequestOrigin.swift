/// Who is owed the reply to one request: the host's caller (a kvd client connection, a
/// simulated client endpoint) and the request id that caller chose. Unique among the requests
/// in flight: the service refuses a second request with an origin already in flight.
public struct RequestOrigin: Hashable, Sendable, CustomStringConvertible {
    public var caller: UInt64
    public var requestID: UInt64

    public init(caller: UInt64, requestID: UInt64) {
        self.caller = caller
        self.requestID = requestID
    }

    public var description: String { "caller \(caller) request \(requestID)" }
}
