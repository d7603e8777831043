import KV
import Linearizability
import Raft
import Replica

/// Which faults a randomized run injects.
public struct FaultSet: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let partitions = FaultSet(rawValue: 1 << 0)
    public static let crashes = FaultSet(rawValue: 1 << 1)
    public static let drops = FaultSet(rawValue: 1 << 2)
    public static let duplicates = FaultSet(rawValue: 1 << 3)
    public static let reorder = FaultSet(rawValue: 1 << 4)
    public static let oneWay = FaultSet(rawValue: 1 << 5)
    public static let bridge = FaultSet(rawValue: 1 << 6)
    /// Freeze a node for a while (SIGSTOP-like): it wakes up with stale beliefs.
    public static let pauses = FaultSet(rawValue: 1 << 7)
    /// A node loses its whole disk and rejoins empty, in recovery (on a share of seeds).
    public static let diskLoss = FaultSet(rawValue: 1 << 8)
    public static let all: FaultSet = [.partitions, .crashes, .drops, .duplicates, .reorder, .oneWay, .bridge, .pauses, .diskLoss]

    public static let names: [(String, FaultSet)] = [
        ("partitions", .partitions), ("crashes", .crashes), ("drops", .drops), ("duplicates", .duplicates),
        ("reorder", .reorder), ("oneway", .oneWay), ("bridge", .bridge), ("pauses", .pauses), ("diskloss", .diskLoss),
    ]
}

/// What the clients and the fault injector do in a run besides the random faults.
public enum Workload: String, Sendable, CaseIterable, Codable {
    /// Random faults only.
    case random
    /// Also: every so often the leader is isolated and handed a long uncommitted tail, and
    /// healed back later, so followers hold long divergent logs that backtracking and
    /// truncation (or a snapshot with a conflicting suffix) must repair under faults.
    case divergent
}

/// Settings shared by the seeds of a sweep. A nil field is drawn by each seed (see
/// `SeedParameters`); a set one is used as given.
public struct SimulationConfig: Sendable, Equatable {
    public var seed: UInt64 = 1
    /// Cluster size (nil: each seed draws 3 or 5).
    public var nodes: Int?
    /// Ticks of random faults (the safety phase).
    public var faultTicks = 2_000
    /// Bound on the healing phase (the liveness phase): everything must complete and converge within it.
    public var healTicks = 3_000
    public var clients = 4
    public var keys = 4
    public var faults: FaultSet = .all
    /// Snapshot and compact every this many entries (0: never; nil: drawn per seed).
    public var snapshotEvery: UInt64?
    public var workload: Workload?
    /// A run that delivers more messages than this has a message storm: it fails.
    public var maxDeliveries = 3_000_000
    /// Requests each client pipelines (its session window); nil: drawn per seed (1, 4, 8, 16).
    public var window: UInt64?
    /// Short-lived clients churning through a small session table, so sessions are evicted
    /// while their owners retry; nil: drawn per seed (one seed in three).
    public var sessionChurn: Bool?
    public init() {}
}

/// Everything one seed draws (unless the configuration fixes it), printed at the start of
/// its report so a reader knows what the run was.
public struct SeedParameters: Sendable, Codable, Equatable, CustomStringConvertible {
    public var nodes: Int
    public var workload: Workload
    public var snapshotEvery: UInt64
    public var maxEntriesPerAppend: Int
    public var maxInflightAppends: Int
    public var checkQuorum: Bool
    public var diskLatency: Int
    public var midReadyCrashRate: Double
    public var crashAfterVoteRate: Double
    public var dropRate: Double
    public var duplicateRate: Double
    public var maxDelay: Int
    /// Late replies: this share of messages is held back up to `longDelay` ticks.
    public var longDelayRate: Double
    public var longDelay: Int
    public var partitionRate: Double
    public var crashRate: Double
    public var restartRate: Double
    public var pauseRate: Double
    public var leaderBias: Double
    /// Whole disks are lost now and then (one seed in four with 3+ nodes).
    public var diskLoss: Bool
    /// Requests each client keeps in flight (`ClientSession` window).
    public var clientWindow: UInt64
    /// Short-lived clients and a session table of clients + 1: sessions are evicted while
    /// their owners retry, whose retries must come back `sessionExpired`.
    public var sessionChurn: Bool

    /// Draws from the seed alone (a stream of its own, so a new draw here does not reshuffle
    /// the cluster's streams).
    public init(seed: UInt64, _ config: SimulationConfig) {
        var r = SeededRandom(seed: seed ^ 0x5EED_F10C)
        let f = config.faults
        nodes = config.nodes ?? (r.chance(0.5) ? 3 : 5)
        workload = config.workload ?? (r.chance(0.25) ? .divergent : .random)
        // Snapshots in a share of seeds, with small intervals so installs happen under faults.
        let drawnSnapshot: UInt64 = r.chance(0.3) ? [10, 20, 40, 80][Int(r.below(4))] : 0
        snapshotEvery = config.snapshotEvery ?? drawnSnapshot
        // One entry per AppendEntries and a window of one reach interleavings (Figure 8
        // among them) that big batches hide.
        maxEntriesPerAppend = [1, 2, 4, 64][Int(r.below(4))]
        maxInflightAppends = [1, 4, 64][Int(r.below(3))]
        // Without check-quorum a stale leader survives until a higher term reaches it, so the
        // step-down rules (a higher term in any message, responses included) act on their own.
        checkQuorum = r.chance(0.8)
        diskLatency = [0, 0, 1, 2, 4][Int(r.below(5))]
        midReadyCrashRate = f.contains(.crashes) ? [0, 0.001, 0.004][Int(r.below(3))] : 0
        crashAfterVoteRate = f.contains(.crashes) ? [0, 0.05, 0.2][Int(r.below(3))] : 0
        dropRate = f.contains(.drops) ? Double(r.below(11)) / 100 : 0
        duplicateRate = f.contains(.duplicates) ? Double(r.below(6)) / 100 : 0
        maxDelay = f.contains(.reorder) ? 1 + Int(r.below(3)) : 1
        // Late replies: on a share of seeds, many messages arrive a whole election timeout
        // (10 ticks) late or more.
        let late = f.contains(.reorder) && r.chance(0.3)
        longDelayRate = f.contains(.reorder) ? (late ? [0.05, 0.1, 0.2][Int(r.below(3))] : 0.02) : 0
        longDelay = late ? [20, 40, 80][Int(r.below(3))] : 30
        partitionRate = 0.002 + Double(r.below(20)) / 1000   // 0.2% .. 2.1% per tick
        crashRate = 0.001 + Double(r.below(10)) / 1000        // 0.1% .. 1.0%
        restartRate = 0.01 + Double(r.below(30)) / 1000       // 1% .. 4%
        pauseRate = Double(r.below(5)) / 1000                 // 0 .. 0.4%
        leaderBias = Double(r.below(11)) / 10
        // Drawn last, so that other draws keep their values.
        diskLoss = f.contains(.diskLoss) && nodes >= 3 && r.below(4) == 0
        // After the disk-loss draw, which keeps its seeds.
        let drawnWindow: UInt64 = [1, 4, 8, 16][Int(r.below(4))]
        clientWindow = config.window ?? drawnWindow
        let drawnChurn = r.below(3) == 0
        sessionChurn = config.sessionChurn ?? drawnChurn
    }

    public var description: String {
        func pct(_ x: Double) -> String { String(Int((x * 1000).rounded())) + "‰" }
        return "nodes=\(nodes) workload=\(workload.rawValue) snapshotEvery=\(snapshotEvery) batch=\(maxEntriesPerAppend) window=\(maxInflightAppends) "
            + "checkQuorum=\(checkQuorum) diskLatency=0...\(diskLatency) midReadyCrash=\(pct(midReadyCrashRate)) crashAfterVote=\(pct(crashAfterVoteRate)) "
            + "drop=\(pct(dropRate)) dup=\(pct(duplicateRate)) delay=1...\(maxDelay) late=\(pct(longDelayRate))x\(longDelay) "
            + "partition=\(pct(partitionRate)) crash=\(pct(crashRate)) restart=\(pct(restartRate)) pause=\(pct(pauseRate)) leaderBias=\(leaderBias) diskLoss=\(diskLoss) "
            + "clientWindow=\(clientWindow) sessionChurn=\(sessionChurn)"
    }
}

public struct SimulationReport: Sendable, Codable {
    public var seed: UInt64
    public var parameters: SeedParameters
    public var failure: String?
    /// Which phase failed: "safety" (under faults), "liveness" (after healing) or "final checks".
    public var failedPhase: String?
    public var lastEvents: [String] = []
    public var ticks: UInt64 = 0
    /// Ticks the liveness phase took to converge (nil: it did not get there).
    public var livenessTicks: UInt64?
    public var deliveries = 0
    public var operations = 0
    public var retries = 0
    /// Requests answered `sessionExpired`, and the most one client had in flight at once.
    public var expirations = 0
    public var maxInFlight = 0
    public var restarts = 0
    public var maxTerm: Term = 0
    public var traceHash: UInt64 = 0
    /// Whole disks lost (the `diskloss` fault) and recoveries that finished.
    public var disksLost = 0
    public var recoveries = 0
    public var coverage = Coverage()
    public var passed: Bool { failure == nil }

    public init(seed: UInt64, parameters: SeedParameters) {
        self.seed = seed
        self.parameters = parameters
    }
}

/// One seeded run: a safety phase under faults, then a liveness phase after healing that
/// must make progress, with the invariant and linearizability checkers on throughout.
public func runSimulation(_ config: SimulationConfig) -> SimulationReport {
    var run = SimulationRun(config)
    if let v = run.safetyPhase() { return run.failed("safety", v) }
    if let v = run.livenessPhase() { return run.failed("liveness", v) }
    if let v = run.finalChecks() { return run.failed("final checks", v) }
    return run.finish()
}

/// The state of one `runSimulation`, in named steps.
struct SimulationRun {
    let config: SimulationConfig
    let parameters: SeedParameters
    let cluster: SimCluster
    var rng: SeededRandom
    var clients: SimClients
    var report: SimulationReport
    var divergent: DivergentLogs?
    var diskRng: SeededRandom

    init(_ config: SimulationConfig) {
        self.config = config
        let p = SeedParameters(seed: config.seed, config)
        parameters = p
        var opts = SimCluster.Options()
        opts.snapshotEvery = p.snapshotEvery
        opts.snapshotChunkBytes = 64 // small chunks so transfers take several round trips
        opts.maxEntriesPerAppend = p.maxEntriesPerAppend
        opts.maxInflightAppends = p.maxInflightAppends
        opts.checkQuorum = p.checkQuorum
        opts.diskLatency = p.diskLatency
        opts.midReadyCrashRate = p.midReadyCrashRate
        opts.crashAfterVoteRate = p.crashAfterVoteRate
        // Churn: a table one larger than the clients, so abandoned sessions are evicted first and
        // a live client's session only when it is the least recently used (retrying a request
        // that does not commit). Smaller tables thrash: registrations evict each other forever.
        if p.sessionChurn { opts.sessionLimits = SessionLimits(maxSessions: config.clients + 1) }
        cluster = SimCluster(nodes: p.nodes, seed: config.seed, options: opts)
        rng = cluster.faultRng.fork()
        var net = NetworkFaults()
        net.dropRate = p.dropRate
        net.duplicateRate = p.duplicateRate
        net.maxDelay = p.maxDelay
        net.longDelayRate = p.longDelayRate
        net.longDelay = p.longDelay
        cluster.network.faults = net
        clients = SimClients(count: config.clients, keys: config.keys, nodes: cluster.ids,
                             timeoutTicks: UInt64(4 * opts.electionTicks), rng: rng.fork(),
                             window: p.clientWindow, churn: p.sessionChurn ? 1...4 : nil)
        report = SimulationReport(seed: config.seed, parameters: p)
        if p.workload == .divergent { divergent = DivergentLogs() }
        diskRng = SeededRandom(seed: config.seed ^ 0xD15C_1055)
    }

    /// Faults strike at the seed's rates while clients work; every tick is checked.
    mutating func safetyPhase() -> String? {
        let majority = parameters.nodes / 2 + 1
        for _ in 0..<config.faultTicks {
            injectFault(cluster, &rng, config.faults, majority: majority, parameters)
            divergent?.step(cluster, &rng)
            if parameters.diskLoss { injectDiskLoss(cluster, &diskRng) }
            clients.step(cluster)
            cluster.tick()
            if let v = checkStep() { return v }
        }
        return nil
    }

    /// No faults, everyone up: clients must finish and replicas converge within `healTicks`.
    mutating func livenessPhase() -> String? {
        cluster.heal()
        cluster.network.faults = NetworkFaults()
        cluster.faultsActive = false
        divergent = nil
        for id in cluster.ids { cluster.restart(id) }
        let healStart = cluster.now
        while cluster.now < healStart + UInt64(config.healTicks) {
            clients.issuing = cluster.now < healStart + 200
            clients.step(cluster)
            cluster.tick()
            if let v = checkStep() { return v }
            if !clients.issuing && clients.allIdle && replicasConverged(cluster) {
                report.livenessTicks = cluster.now - healStart
                return nil
            }
        }
        let applied = cluster.liveIDs.map { "n\($0):\(cluster.replica($0)!.node.log.applied)" }.joined(separator: " ")
        return "liveness: after \(config.healTicks) healed ticks, \(clients.outstanding) client operation(s) still open, applied \(applied), leader \(cluster.leader.map(String.init) ?? "none")"
    }

    /// Log Matching once more, then linearizability of the whole client history.
    mutating func finalChecks() -> String? {
        cluster.checkLogs()
        if let v = checkStep() { return v }
        clients.giveUpOutstanding()
        switch LinearizabilityChecker.check(clients.history.operations) {
        case .linearizable: return nil
        case let .notLinearizable(_, explanation): return "linearizability: \(explanation)"
        case let .unknown(reason): return "linearizability check inconclusive: \(reason)"
        }
    }

    func checkStep() -> String? {
        if cluster.network.delivered > config.maxDeliveries {
            return "message storm: \(cluster.network.delivered) deliveries in \(cluster.now) ticks (bound \(config.maxDeliveries))"
        }
        return cluster.invariants.violation ?? clients.violation
    }

    mutating func failed(_ phase: String, _ why: String) -> SimulationReport {
        report.failure = why
        report.failedPhase = phase
        report.lastEvents = cluster.lastEvents.map(\.description)
        return finish()
    }

    mutating func finish() -> SimulationReport {
        report.ticks = cluster.now
        report.deliveries = cluster.network.delivered
        report.operations = clients.completedOps
        report.retries = clients.retries
        report.expirations = clients.expirations
        report.maxInFlight = clients.maxInFlight
        report.restarts = cluster.restarts
        report.maxTerm = cluster.maxTerm
        report.traceHash = cluster.traceHash
        report.coverage = cluster.coverage
        report.disksLost = cluster.disksLost
        report.recoveries = cluster.recoveriesFinished
        return report
    }
}

/// The divergent-log workload: isolates the leader, hands it a long uncommitted tail of
/// writes (to keys the clients never use, so the history stays the clients' own), lets the
/// majority move on, and heals after a while.
struct DivergentLogs {
    var nextAt: UInt64 = 50
    var healAt: UInt64?
    var sequence: UInt64 = 0
    static let clientID: UInt64 = 0xD1_5EED

    mutating func step(_ c: SimCluster, _ rng: inout SeededRandom) {
        if let h = healAt {
            guard c.now >= h else { return }
            c.heal()
            healAt = nil
            nextAt = c.now + 50 + rng.below(150)
            return
        }
        guard c.now >= nextAt, let l = c.leader else { return }
        c.partition([[l], c.ids.filter { $0 != l }])
        let tail = 5 + rng.below(40)
        for _ in 0..<tail {
            sequence += 1
            let req = ClientRequest(clientID: Self.clientID, sequence: sequence, firstUnacknowledged: sequence,
                                    command: .put(key: Array("divergent-\(sequence % 3)".utf8), value: Array("\(sequence)".utf8)))
            if c.propose(on: l, req).refused != nil { break }
        }
        healAt = c.now + 20 + rng.below(60)
    }
}

/// All live replicas applied the same prefix and hold equal key-value maps.
func replicasConverged(_ c: SimCluster) -> Bool {
    let live = c.liveIDs.compactMap { c.replica($0) }
    guard let first = live.first, live.count == c.ids.count else { return false }
    let maxCommit = live.map { $0.node.log.committed }.max() ?? 0
    return live.allSatisfy { $0.node.log.applied == maxCommit && $0.kv.data == first.kv.data }
}

/// Random faults. Crashes are limited so that at most a bare majority is down at once only
/// occasionally; the healing phase restores everything anyway.
func injectFault(_ c: SimCluster, _ rng: inout SeededRandom, _ f: FaultSet, majority: Int, _ k: SeedParameters) {
    let n = c.ids.count
    if f.contains(.partitions) && rng.chance(k.partitionRate) {
        switch rng.below(5) {
        case 0:
            c.heal()
        case 1 where f.contains(.bridge) && n >= 3:
            var ids = c.ids
            shuffle(&ids, &rng)
            let bridge = ids.removeFirst()
            let half = ids.count / 2
            c.partition([Array(ids.prefix(half)), Array(ids.dropFirst(half))], bridges: [bridge])
        case 2 where f.contains(.oneWay):
            let a = c.ids[Int(rng.below(UInt64(n)))], b = c.ids[Int(rng.below(UInt64(n)))]
            if a != b { c.cut(from: a, to: b) }
        case 3:
            // Isolate the leader, if any.
            if let l = c.leader { c.partition([[l], c.ids.filter { $0 != l }]) }
        default:
            var ids = c.ids
            shuffle(&ids, &rng)
            let k = 1 + Int(rng.below(UInt64(n - 1 > 0 ? n - 1 : 1)))
            c.partition([Array(ids.prefix(k)), Array(ids.dropFirst(k))])
        }
    }
    func victim() -> NodeID? {
        if let l = c.leader, rng.chance(k.leaderBias) { return l }
        let live = c.liveIDs
        return live.isEmpty ? nil : live[Int(rng.below(UInt64(live.count)))]
    }
    if f.contains(.crashes) {
        let down = c.ids.filter { !c.isUp($0) }
        if rng.chance(k.crashRate) && down.count < n - majority + 1, let v = victim() {
            c.crash(v)
            // Half the crashes are bounces: a supervisor restarts the process at once, so
            // it rejoins an election it took part in before (what a lost vote would break).
            if rng.chance(0.5) { c.scheduleRestart(v, at: c.now + 1 + rng.below(8)) }
        }
        if !down.isEmpty && rng.chance(k.restartRate) {
            c.restart(down[Int(rng.below(UInt64(down.count)))])
        }
    }
    if f.contains(.pauses) && rng.chance(k.pauseRate), let v = victim() {
        c.pause(v, until: c.now + 1 + rng.below(40))
    }
}

/// Now and then a live node loses its whole disk and is restarted empty a little later; it
/// rejoins in recovery. One at a time: a second loss before the first has caught up could
/// destroy the only copies of acknowledged writes, which no protocol survives.
func injectDiskLoss(_ c: SimCluster, _ rng: inout SeededRandom) {
    guard rng.chance(0.002), c.lostDisks.isEmpty, !c.liveIDs.contains(where: { c.node($0)!.recovering }) else { return }
    let live = c.liveIDs
    guard !live.isEmpty else { return }
    let v = live[Int(rng.below(UInt64(live.count)))]
    c.loseDisk(v)
    c.scheduleRestart(v, at: c.now + 1 + rng.below(50))
}

func shuffle<T>(_ a: inout [T], _ rng: inout SeededRandom) {
    guard a.count > 1 else { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
}
