import KV
import Raft

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

public struct SimulationConfig: Sendable {
    public var seed: UInt64 = 1
    public var nodes = 5
    /// Ticks of random faults.
    public var faultTicks = 2_000
    /// Bound on the healing phase: everything must complete and converge within it.
    public var healTicks = 3_000
    public var clients = 4
    public var keys = 4
    public var faults: FaultSet = .all
    /// Snapshot and compact every this many entries (0: never).
    public var snapshotEvery: UInt64 = 0
    /// A run that delivers more messages than this has a message storm: it fails.
    public var maxDeliveries = 3_000_000
    /// Requests each client pipelines (its session window); nil: drawn per seed (1, 4, 8, 16).
    public var window: UInt64?
    /// Short-lived clients churning through a small session table, so sessions are evicted
    /// while their owners retry; nil: drawn per seed (one seed in three).
    public var sessionChurn: Bool?
    public init() {}
}

public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var failure: String?
    public var lastEvents: [String] = []
    public var ticks: UInt64 = 0
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
    public var passed: Bool { failure == nil }
}

/// One seeded run: a fault phase, then a healing phase that must make progress, with the
/// invariant and linearizability checkers on throughout.
public func runSimulation(_ config: SimulationConfig) -> SimulationReport {
    var opts = SimCluster.Options()
    opts.snapshotEvery = config.snapshotEvery
    opts.snapshotChunkBytes = 64 // small chunks so transfers take several round trips
    // Flow-control limits vary by seed: one entry per AppendEntries and a window of one
    // reach interleavings (Figure 8 among them) that big batches hide.
    var shape = SeededRandom(seed: config.seed ^ 0x5EED_F10C)
    opts.maxEntriesPerAppend = [1, 2, 4, 64][Int(shape.below(4))]
    opts.maxInflightAppends = [1, 4, 64][Int(shape.below(3))]
    if config.faults.contains(.crashes) { opts.crashAfterVoteRate = [0, 0.05, 0.2][Int(shape.below(3))] }
    // One seed in four loses whole disks (drawn last, so other seeds keep their runs).
    let diskLoss = config.faults.contains(.diskLoss) && config.nodes >= 3 && shape.below(4) == 0
    // Client windows and session churn (drawn after the disk-loss draw, which keeps its seeds).
    let window = config.window ?? [1, 4, 8, 16][Int(shape.below(4))]
    let churn = config.sessionChurn ?? (shape.below(3) == 0)
    // Churn: a table one larger than the clients, so abandoned sessions are evicted first and
    // a live client's session only when it is the least recently used (retrying a request
    // that does not commit). Smaller tables thrash: registrations evict each other forever.
    if churn { opts.sessionLimits = SessionLimits(maxSessions: config.clients + 1) }
    let cluster = SimCluster(nodes: config.nodes, seed: config.seed, options: opts)
    var rng = cluster.faultRng.fork()
    let f = config.faults
    var net = NetworkFaults()
    if f.contains(.drops) { net.dropRate = Double(rng.below(11)) / 100 }
    if f.contains(.duplicates) { net.duplicateRate = Double(rng.below(6)) / 100 }
    if f.contains(.reorder) {
        net.maxDelay = 1 + Int(rng.below(3))
        net.longDelayRate = 0.02
        net.longDelay = 30
    }
    cluster.network.faults = net
    var clients = SimClients(count: config.clients, keys: config.keys, nodes: cluster.ids,
                             timeoutTicks: UInt64(4 * opts.electionTicks), rng: rng.fork(),
                             window: window, churn: churn ? 1...4 : nil)
    var report = SimulationReport(seed: config.seed)

    func failed(_ why: String) -> SimulationReport {
        report.failure = why
        report.lastEvents = cluster.lastEvents.map(\.description)
        return finish()
    }
    func finish() -> SimulationReport {
        report.ticks = cluster.now
        report.deliveries = cluster.network.delivered
        report.operations = clients.completedOps
        report.retries = clients.retries
        report.expirations = clients.expirations
        report.maxInFlight = clients.maxInFlight
        report.restarts = cluster.restarts
        report.maxTerm = cluster.maxTerm
        report.traceHash = cluster.traceHash
        report.disksLost = cluster.disksLost
        report.recoveries = cluster.recoveriesFinished
        return report
    }
    func checkStep() -> String? {
        if cluster.network.delivered > config.maxDeliveries {
            return "message storm: \(cluster.network.delivered) deliveries in \(cluster.now) ticks (bound \(config.maxDeliveries))"
        }
        return cluster.invariants.violation ?? clients.violation
    }

    // Fault phase. How often faults strike varies by seed: some runs are calm, some brutal.
    let majority = config.nodes / 2 + 1
    let intensity = FaultIntensity(&rng)
    var diskRng = SeededRandom(seed: config.seed ^ 0xD15C_1055)
    for _ in 0..<config.faultTicks {
        injectFault(cluster, &rng, f, majority: majority, intensity)
        if diskLoss { injectDiskLoss(cluster, &diskRng) }
        clients.step(cluster)
        cluster.tick()
        if let v = checkStep() { return failed(v) }
    }

    // Healing phase: no faults, everyone up; clients must finish and replicas converge.
    cluster.heal()
    cluster.network.faults = NetworkFaults()
    for id in cluster.ids { cluster.restart(id) }
    let healStart = cluster.now
    var converged = false
    while cluster.now < healStart + UInt64(config.healTicks) {
        clients.issuing = cluster.now < healStart + 200
        clients.step(cluster)
        cluster.tick()
        if let v = checkStep() { return failed(v) }
        if !clients.issuing && clients.allIdle && replicasConverged(cluster) {
            converged = true
            break
        }
    }
    if !converged {
        let applied = cluster.liveIDs.map { "n\($0):\(cluster.replica($0)!.node.log.applied)" }.joined(separator: " ")
        return failed("liveness: after \(config.healTicks) healed ticks, \(clients.outstanding) client operation(s) still open, applied \(applied), leader \(cluster.leader.map(String.init) ?? "none")")
    }
    cluster.checkLogs()
    if let v = checkStep() { return failed(v) }

    clients.giveUpOutstanding()
    switch LinearizabilityChecker.check(clients.history.operations) {
    case .linearizable:
        break
    case let .notLinearizable(_, explanation):
        return failed("linearizability: \(explanation)")
    case let .unknown(reason):
        return failed("linearizability check inconclusive: \(reason)")
    }
    return finish()
}

/// All live replicas applied the same prefix and hold equal key-value maps.
func replicasConverged(_ c: SimCluster) -> Bool {
    let live = c.liveIDs.compactMap { c.replica($0) }
    guard let first = live.first, live.count == c.ids.count else { return false }
    let maxCommit = live.map { $0.node.log.committed }.max() ?? 0
    return live.allSatisfy { $0.node.log.applied == maxCommit && $0.kv.data == first.kv.data }
}

/// Per-seed fault rates (per tick).
struct FaultIntensity {
    var partition: Double
    var crash: Double
    var restart: Double
    var pause: Double
    /// Chance that a crash or pause picks the leader rather than any node.
    var leaderBias: Double

    init(_ rng: inout SeededRandom) {
        partition = 0.002 + Double(rng.below(20)) / 1000      // 0.2% .. 2.1%
        crash = 0.001 + Double(rng.below(10)) / 1000          // 0.1% .. 1.0%
        restart = 0.01 + Double(rng.below(30)) / 1000         // 1% .. 4%
        pause = Double(rng.below(5)) / 1000                   // 0 .. 0.4%
        leaderBias = Double(rng.below(11)) / 10
    }
}

/// Random faults. Crashes are limited so that at most a bare majority is down at once only
/// occasionally; the healing phase restores everything anyway.
func injectFault(_ c: SimCluster, _ rng: inout SeededRandom, _ f: FaultSet, majority: Int, _ k: FaultIntensity) {
    let n = c.ids.count
    if f.contains(.partitions) && rng.chance(k.partition) {
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
        if rng.chance(k.crash) && down.count < n - majority + 1, let v = victim() {
            c.crash(v)
            // Half the crashes are bounces: a supervisor restarts the process at once, so
            // it rejoins an election it took part in before (what a lost vote would break).
            if rng.chance(0.5) { c.scheduleRestart(v, at: c.now + 1 + rng.below(8)) }
        }
        if !down.isEmpty && rng.chance(k.restart) {
            c.restart(down[Int(rng.below(UInt64(down.count)))])
        }
    }
    if f.contains(.pauses) && rng.chance(k.pause), let v = victim() {
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
