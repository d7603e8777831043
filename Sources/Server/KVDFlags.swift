import CLI
import Logging
import Glibc
import Storage

/// kvd's command line (etcd-style names) and its translation into a `ServerConfig`.
/// Lives here rather than in main.swift so tests can check it without spawning processes.
public enum KVDFlags {
    public static func parser() -> FlagParser {
        var p = FlagParser(command: "kvd", summary: "RaftKV server: one member of a Raft-replicated key-value cluster.")
        p.acceptsPositional = false
        p.string("name", required: true, help: "this member's name; must appear in --initial-cluster")
        p.string("data-dir", help: "directory for the log and snapshots (default ./<name>.kvd)")
        p.string("listen-client", default: "127.0.0.1:2379", help: "host:port for client traffic")
        p.string("listen-peer", default: "127.0.0.1:2380", help: "host:port for peer traffic")
        p.string("advertise-client", help: "client address told to other members and clients (default: the bound --listen-client)")
        p.string("initial-cluster",
                 help: "all members as name=host:peerport,...; the same list, in the same order, on every member (default <name>=<listen-peer>)")
        p.choice("initial-cluster-state", choices: InitialClusterState.allCases.map(\.rawValue), default: "new",
                 help: "new: bootstrap a cluster; existing: join one that has a history (an empty data dir then recovers from peers before it may vote)")
        p.string("initial-cluster-token", default: "raftkv-cluster", help: "cluster identity; peers and data dirs of other clusters are refused")
        p.int("tick-ms", default: 100, range: 1...60_000, help: "length of one Raft tick in milliseconds")
        p.int("election-ticks", default: 10, range: 2...100_000, help: "election timeout base in ticks (randomized in [E, 2E))")
        p.int("heartbeat-ticks", default: 1, range: 1...100_000, help: "leader heartbeat interval in ticks (below --election-ticks)")
        p.int("snapshot-count", default: 10_000, range: 0...Int(Int32.max), help: "applied entries between snapshots (0: never)")
        p.int("max-request-bytes", default: 1_572_864, range: 64...(64 << 20), help: "largest client request body accepted")
        p.int("max-sessions", default: 10_000, range: 1...10_000_000,
              help: "client sessions the state machine remembers; the least recently used are evicted (same on every member)")
        p.duration("request-timeout", default: .seconds(5), help: "answer 'timeout' to requests not applied within this")
        p.int("max-client-connections", default: 4_096, range: 1...1_000_000,
              help: "client connections at once (lowered to fit the file descriptor limit)")
        p.int("max-client-connections-per-address", default: 256, range: 1...1_000_000,
              help: "client connections at once from one source address")
        p.duration("client-idle-timeout", default: .seconds(120), help: "close client connections idle (nothing in flight) this long; 0 never")
        p.duration("frame-timeout", default: .seconds(10), help: "close a client connection whose frame is incomplete this long after its first byte; 0 never")
        p.int("max-peer-connections", range: 1...100_000, help: "peer-port connections at once (default 2 per member + 16)")
        p.int("max-outbound-bytes", default: 16 << 20, range: 64 << 10...(1 << 30),
              help: "replies queued for one client connection; past it, the connection is closed")
        p.int("outbound-budget-bytes", default: 256 << 20, range: 1 << 20...(1 << 40),
              help: "replies queued for all client connections together; shared fairly when full")
        p.choice("log-level", choices: LogLevel.names, default: "info", help: "least severe level logged")
        return p
    }

    /// Builds the configuration; `seed` drives election timeouts and reconnect jitter.
    public static func config(from flags: ParsedFlags, seed: UInt64, sink: LogSink = .standardError()) throws(ServerError) -> ServerConfig {
        guard flags.positional.isEmpty else {
            throw .config("unexpected argument \"\(flags.positional[0])\" (kvd takes only flags)")
        }
        let name = flags.string("name")!
        let listenPeer = flags.string("listen-peer")!
        let members = try InitialCluster.parse(flags.string("initial-cluster") ?? "\(name)=\(listenPeer)")
        let level = LogLevel(name: flags.string("log-level")!) ?? .info
        let timeout = flags.duration("request-timeout")!
        let timeoutMs = milliseconds(timeout)
        guard timeoutMs >= 1 else { throw .config("--request-timeout must be at least 1ms") }

        var config = ServerConfig(name: name, dataDir: flags.string("data-dir") ?? "./\(name).kvd",
                                  listenClient: flags.string("listen-client")!, listenPeer: listenPeer,
                                  members: members, clusterToken: flags.string("initial-cluster-token")!,
                                  seed: seed, logger: Logger(component: name, level: level, sink: sink))
        config.advertiseClient = flags.string("advertise-client")
        config.initialClusterState = InitialClusterState(rawValue: flags.string("initial-cluster-state")!) ?? .new
        config.tickMilliseconds = flags.int("tick-ms")!
        config.electionTicks = flags.int("election-ticks")!
        config.heartbeatTicks = flags.int("heartbeat-ticks")!
        config.snapshotEvery = UInt64(flags.int("snapshot-count")!)
        config.maxRequestBytes = flags.int("max-request-bytes")!
        config.maxSessions = flags.int("max-sessions")!
        config.requestTimeoutMilliseconds = timeoutMs
        config.maxClientConnections = flags.int("max-client-connections")!
        config.maxClientConnectionsPerAddress = flags.int("max-client-connections-per-address")!
        config.clientIdleTimeoutMilliseconds = milliseconds(flags.duration("client-idle-timeout")!)
        config.frameTimeoutMilliseconds = milliseconds(flags.duration("frame-timeout")!)
        config.maxPeerConnections = flags.int("max-peer-connections")
        config.maxOutboundBytesPerConnection = flags.int("max-outbound-bytes")!
        config.outboundBudgetBytes = flags.int("outbound-budget-bytes")!
        try config.validate()
        return config
    }

    private static func milliseconds(_ d: Duration) -> Int {
        Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A seed that differs per node and per start: the real server needs distinct election
    /// timeouts across members, not reproducibility (that is the simulator's job).
    public static func seed(name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for b in name.utf8 {
            h ^= UInt64(b)
            h &*= 0x100_0000_01B3
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return h ^ UInt64(truncatingIfNeeded: ts.tv_nsec) ^ (UInt64(truncatingIfNeeded: ts.tv_sec) << 30)
            ^ UInt64(truncatingIfNeeded: getpid()) << 17
    }
}
