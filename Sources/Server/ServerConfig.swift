import Logging
import Raft
import Storage

/// One member of the static cluster, as listed in `--initial-cluster`.
public struct Member: Sendable, Equatable {
    /// 1-based position in the initial cluster list; identical on every member.
    public var id: NodeID
    public var name: String
    /// host:port of its peer listener.
    public var peerURL: String

    public init(id: NodeID, name: String, peerURL: String) {
        self.id = id
        self.name = name
        self.peerURL = peerURL
    }
}

/// Everything a `KVServer` needs to start. Built by kvd from flags, or directly by tests.
public struct ServerConfig: Sendable {
    public var name: String
    public var dataDir: String
    /// host:port to listen on for clients (port 0: any free port).
    public var listenClient: String
    /// host:port to listen on for peers (port 0: any free port, useful only for tests of refusals).
    public var listenPeer: String
    /// Client address other members and clients are told about; nil: the bound client address.
    public var advertiseClient: String?
    public var members: [Member]
    public var clusterToken: String
    /// `existing`: an empty data directory means this member lost its disk, so it starts in
    /// recovery (never votes until it caught up). `new` (bootstrap) is the default; an empty
    /// node started `new` still enters recovery when a peer's handshake shows a history.
    public var initialClusterState: InitialClusterState = .new

    public var tickMilliseconds = 100
    public var electionTicks = 10
    public var heartbeatTicks = 1
    public var snapshotEvery: UInt64 = 10_000
    /// Size of the replicated client-session table. Must be the same on every member: it
    /// decides evictions, which are part of the replicated state.
    public var maxSessions = 10_000
    /// Client calls with a larger body are refused with `tooLarge`.
    public var maxRequestBytes = 1_572_864
    /// A proposal still pending after this long is answered `timeout` (outcome unknown).
    public var requestTimeoutMilliseconds = 5_000
    /// Bounds on requests awaiting an outcome, overall and per client connection.
    public var maxPendingRequests = 16_384
    public var maxInflightPerConnection = 1_024
    /// Client connections at once, overall and from one source address. The overall cap is
    /// lowered at start-up when RLIMIT_NOFILE leaves less room (see DescriptorBudget).
    public var maxClientConnections = 4_096
    public var maxClientConnectionsPerAddress = 256
    /// A client connection with nothing in flight and no bytes received for this long is
    /// closed (0: never). Clients reconnect on their next call.
    public var clientIdleTimeoutMilliseconds = 120_000
    /// A client frame must be complete this long after its first byte (0: no deadline).
    public var frameTimeoutMilliseconds = 10_000
    /// Peer-port connections at once, handshaked or not; nil: 2 per member plus 16.
    public var maxPeerConnections: Int?
    /// Replies queued for one client connection; a connection past it is closed. Reading from
    /// a connection pauses well before (at a quarter of it), so TCP pushes back on the client.
    public var maxOutboundBytesPerConnection = 16 << 20
    /// Replies queued for all client connections together. When it is used up, a connection
    /// holding more than an equal share of it is closed (so every reader gets its share).
    public var outboundBudgetBytes = 256 << 20
    /// Raise RLIMIT_NOFILE's soft limit to the hard limit at start-up (kvd does; tests that
    /// run many servers in one process may too, it is process-wide and only ever raised).
    public var raiseDescriptorLimit = true
    /// An inbound peer connection must handshake within this long.
    public var handshakeTimeoutMilliseconds = 5_000
    /// A process() call (which includes the fsync) slower than this is logged.
    public var slowSyncMilliseconds = 100
    public var peerConnectTimeoutMilliseconds = 1_000
    public var peerMaxBackoffMilliseconds = 2_000
    /// Seed for the core's randomness (election timeouts) and reconnect jitter.
    public var seed: UInt64
    public var logger: Logger

    public init(name: String, dataDir: String, listenClient: String, listenPeer: String,
                members: [Member], clusterToken: String, seed: UInt64, logger: Logger) {
        self.name = name
        self.dataDir = dataDir
        self.listenClient = listenClient
        self.listenPeer = listenPeer
        self.members = members
        self.clusterToken = clusterToken
        self.seed = seed
        self.logger = logger
    }

    /// The peer-connection cap in force.
    public var peerConnectionLimit: Int { maxPeerConnections ?? 2 * members.count + 16 }

    /// This node's entry in `members`.
    public var me: Member? { members.first { $0.name == name } }

    /// Checks the configuration before anything is opened or bound.
    public func validate() throws(ServerError) {
        guard !name.isEmpty else { throw .config("--name must not be empty") }
        guard !clusterToken.isEmpty, clusterToken.utf8.count <= 256 else {
            throw .config("--initial-cluster-token must be 1...256 bytes")
        }
        guard me != nil else {
            throw .config("--name \(name) is not in --initial-cluster (members: \(members.map(\.name).joined(separator: ", ")))")
        }
        if initialClusterState == .existing && members.count == 1 {
            throw .config("--initial-cluster-state existing needs other members to recover from; a one-member cluster has none")
        }
        guard tickMilliseconds >= 1 else { throw .config("--tick-ms must be at least 1") }
        guard electionTicks >= 2 else { throw .config("--election-ticks must be at least 2") }
        guard heartbeatTicks >= 1, heartbeatTicks < electionTicks else {
            throw .config("--heartbeat-ticks must be at least 1 and below --election-ticks (\(electionTicks))")
        }
        guard maxRequestBytes >= 64 else { throw .config("--max-request-bytes must be at least 64") }
        guard requestTimeoutMilliseconds >= 1 else { throw .config("--request-timeout must be positive") }
        guard maxClientConnections >= 1 else { throw .config("--max-client-connections must be at least 1") }
        guard maxClientConnectionsPerAddress >= 1 else { throw .config("--max-client-connections-per-address must be at least 1") }
        guard clientIdleTimeoutMilliseconds >= 0, frameTimeoutMilliseconds >= 0 else {
            throw .config("--client-idle-timeout and --frame-timeout must not be negative")
        }
        if let p = maxPeerConnections, p < members.count {
            throw .config("--max-peer-connections must be at least the member count (\(members.count))")
        }
    }
}
