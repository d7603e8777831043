import Codec

/// Optional fields of a client call (the `Fields` block after the call's own fields).
public struct CallOptions: Sendable, Equatable {
    /// Field 1: how many milliseconds the client will wait for this reply, counted from when
    /// it sent the call (like gRPC's `grpc-timeout`). The server answers `timeout` before
    /// then and drops the work once the time is up; 0 means "already too late".
    public static let deadlineTag: UInt64 = 1

    public var deadlineMilliseconds: UInt64?
    /// Fields this version does not know, kept so a proxy could pass them on.
    public var unknown = Fields()

    public init(deadlineMilliseconds: UInt64? = nil) {
        self.deadlineMilliseconds = deadlineMilliseconds
    }

    var fields: Fields {
        var f = unknown
        f.setVarint(Self.deadlineTag, deadlineMilliseconds)
        return f
    }

    init(fields: Fields) throws(DecodeError) {
        deadlineMilliseconds = try fields.varint(Self.deadlineTag, what: "deadline")
        var rest = fields
        rest[Self.deadlineTag] = nil
        unknown = rest
    }
}
