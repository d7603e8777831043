import CLI
import Dispatch
import Foundation
import Simulation

// simulate: runs seeded partition/crash simulations of a RaftKV cluster and checks safety,
// liveness after healing, and linearizability. Same seed, same run.

var parser = FlagParser(command: "simulate", summary: "Deterministic fault-injection simulation of a RaftKV cluster.")
parser.int("seed", default: nil, range: 0...Int.max, help: "run one seed")
parser.string("seeds", default: nil, help: "run a range of seeds, e.g. 1-1000")
parser.int("nodes", default: 5, range: 1...9, help: "cluster size")
parser.int("fault-ticks", default: 2000, range: 0...10_000_000, help: "ticks of random faults per seed")
parser.int("heal-ticks", default: 3000, range: 1...10_000_000, help: "bound on the healing phase")
parser.int("clients", default: 4, range: 1...64, help: "concurrent clients")
parser.int("keys", default: 4, range: 1...1000, help: "distinct keys the clients use")
parser.string("faults", default: "all", help: "comma list of: all, none, " + FaultSet.names.map(\.0).joined(separator: ", "))
parser.int("snapshot-every", default: 0, range: 0...Int.max, help: "snapshot and compact every N entries (0: never)")
parser.int("window", default: nil, range: 1...256, help: "requests each client pipelines (default: drawn per seed from 1, 4, 8, 16)")
parser.choice("session-churn", choices: ["on", "off"], default: nil,
              help: "short-lived clients evicting sessions from a small table (default: one seed in three)")
parser.int("jobs", default: 2, range: 1...64, help: "seeds run in parallel (output order is unchanged)")
parser.bool("quiet", help: "print only failures and the summary")
parser.bool("check-determinism", help: "run every seed twice and compare trace hashes")

let args: ParsedFlags
do {
    args = try parser.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("Error: \(error)\nRun 'simulate --help' for usage.\n".utf8))
    exit(2)
}
if args.helpRequested {
    print(parser.helpText)
    exit(0)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
    exit(2)
}

var seeds: [UInt64] = []
if let s = args.int("seed") { seeds = [UInt64(s)] }
if let r = args.string("seeds") {
    let parts = r.split(separator: "-").map { UInt64($0) }
    guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi, hi - lo < 10_000_000 else {
        fail("--seeds wants A-B with A <= B, e.g. 1-1000 (got \(r))")
    }
    seeds += Array(lo...hi)
}
if seeds.isEmpty { seeds = [1] }

var faults: FaultSet = []
for name in (args.string("faults") ?? "all").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
    if name == "all" { faults.formUnion(.all); continue }
    if name == "none" { continue }
    guard let f = FaultSet.names.first(where: { $0.0 == name })?.1 else {
        fail("unknown fault '\(name)'; choose from all, none, \(FaultSet.names.map(\.0).joined(separator: ", "))")
    }
    faults.formUnion(f)
}

var base = SimulationConfig()
base.nodes = args.int("nodes")!
base.faultTicks = args.int("fault-ticks")!
base.healTicks = args.int("heal-ticks")!
base.clients = args.int("clients")!
base.keys = args.int("keys")!
base.faults = faults
base.snapshotEvery = UInt64(args.int("snapshot-every")!)
base.window = args.int("window").map { UInt64($0) }
base.sessionChurn = args.string("session-churn").map { $0 == "on" }
let quiet = args.bool("quiet")
let checkDeterminism = args.bool("check-determinism")

/// The one command that replays `seed` with these settings.
@MainActor func replayCommand(_ seed: UInt64) -> String {
    var cmd = "swift run -c release simulate --seed \(seed) --nodes \(base.nodes)"
    for name in ["fault-ticks", "heal-ticks", "clients", "keys", "faults", "snapshot-every", "window", "session-churn"] where args.isSet(name) {
        cmd += " --\(name) \(args.value(name).map { "\($0)" } ?? "")"
    }
    return cmd
}

final class Results: @unchecked Sendable {
    // Safe: each slot is written by exactly one worker (its own index) and read only
    // after concurrentPerform returns.
    var reports: [SimulationReport?]
    init(_ n: Int) { reports = Array(repeating: nil, count: n) }
}

let seedList = seeds
let baseConfig = base
let started = DispatchTime.now().uptimeNanoseconds
let results = Results(seeds.count)
let jobs = min(args.int("jobs")!, seeds.count)
let chunk = (seeds.count + jobs - 1) / jobs
DispatchQueue.concurrentPerform(iterations: jobs) { j in
    let lo = j * chunk, hi = min(seedList.count, lo + chunk)
    guard lo < hi else { return }
    for i in lo..<hi {
        var cfg = baseConfig
        cfg.seed = seedList[i]
        var r = runSimulation(cfg)
        if checkDeterminism && r.passed {
            let again = runSimulation(cfg)
            if again.traceHash != r.traceHash {
                r.failure = "determinism: the same seed gave trace hash \(String(r.traceHash, radix: 16)) then \(String(again.traceHash, radix: 16))"
            }
        }
        results.reports[i] = r
    }
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9

var passed = 0, failed = 0
var ticks: UInt64 = 0, deliveries = 0, ops = 0
var disksLost = 0, diskLossSeeds = 0, recoveries = 0
for r in results.reports.compactMap({ $0 }) {
    disksLost += r.disksLost
    diskLossSeeds += r.disksLost > 0 ? 1 : 0
    recoveries += r.recoveries
    ticks += r.ticks
    deliveries += r.deliveries
    ops += r.operations
    if r.passed {
        passed += 1
        if !quiet {
            print("seed \(r.seed): ok  ticks=\(r.ticks) deliveries=\(r.deliveries) ops=\(r.operations) retries=\(r.retries) restarts=\(r.restarts) maxTerm=\(r.maxTerm) trace=\(String(r.traceHash, radix: 16))")
        }
    } else {
        failed += 1
        print("seed \(r.seed): FAILED  \(r.failure ?? "")")
        print("  last events:")
        for e in r.lastEvents.suffix(30) { print("    \(e)") }
        print("  replay: \(replayCommand(r.seed))")
    }
}
// Wall-clock rates over all jobs, plus the same per job (one core each).
print(String(format: "speed: %.0f message deliveries/s and %.0f ticks/s wall clock (%d job(s), %.1f s); %.0f deliveries/s per job; %d client ops",
             Double(deliveries) / seconds, Double(ticks) / seconds, jobs, seconds,
             Double(deliveries) / seconds / Double(jobs), ops))
if disksLost > 0 {
    print("disk loss: \(disksLost) whole disk(s) lost on \(diskLossSeeds) seed(s); \(recoveries) recovery(ies) finished")
}
print("simulate: \(passed) passed, \(failed) failed")
exit(failed == 0 ? 0 : 1)
