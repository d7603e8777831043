/// How a `KVClient` connects and retries. Defaults suit an interactive tool on a LAN.
public struct KVClientConfiguration: Sendable {
    /// "host:port" client addresses of some or all members.
    public var endpoints: [String]
    /// Bound on establishing one TCP connection.
    public var dialTimeout: Duration
    /// Bound on one whole call, retries and redirects included.
    public var commandTimeout: Duration
    /// Bound on one attempt against one server before trying another (a paused or
    /// partitioned leader keeps its socket open but never answers). Retries reuse the
    /// request's sequence, so the session makes them exactly-once.
    public var attemptTimeout: Duration
    /// Delay between retries when no leader is known or a server is busy: doubles from min to max.
    public var retryBackoffMin: Duration
    public var retryBackoffMax: Duration
    /// How long an endpoint that refused a connection is skipped (doubling per failure up to max).
    public var endpointDownMin: Duration
    public var endpointDownMax: Duration
    /// At most this many sequences between the oldest unanswered request and the newest: the
    /// server keeps results for that many per session (SessionLimits.maxResultsPerSession),
    /// so a retry inside the window is always answered from the cache, never applied twice.
    public var sessionWindow: UInt64 = 256

    public init(endpoints: [String], dialTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
                attemptTimeout: Duration? = nil, retryBackoffMin: Duration = .milliseconds(10),
                retryBackoffMax: Duration = .milliseconds(500), endpointDownMin: Duration = .milliseconds(50),
                endpointDownMax: Duration = .seconds(2)) {
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.commandTimeout = commandTimeout
        // Long enough for a commit under load, short enough to leave time for a failover.
        self.attemptTimeout = attemptTimeout ?? min(commandTimeout, max(.milliseconds(500), commandTimeout / 3))
        self.retryBackoffMin = retryBackoffMin
        self.retryBackoffMax = retryBackoffMax
        self.endpointDownMin = endpointDownMin
        self.endpointDownMax = endpointDownMax
    }
}
