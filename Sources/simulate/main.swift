import Dispatch
import Foundation
import Simulation
import SimulateCommand

// simulate: runs seeded partition/crash simulations of a RaftKV cluster and checks safety
// under faults, liveness after healing, and linearizability. Same seed, same run.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("Error: \(message)\nRun 'simulate --help' for usage.\n".utf8))
    exit(2)
}

let args: SimulateArguments
do {
    let (parsed, help) = try SimulateArguments.parse(Array(CommandLine.arguments.dropFirst()))
    if help {
        print(SimulateArguments.parser.helpText)
        exit(0)
    }
    args = parsed
} catch {
    fail("\(error)")
}

if args.worker {
    SweepRunner.serveAsWorker(args)
    exit(0)
}

let started = DispatchTime.now().uptimeNanoseconds
let reports: [SimulationReport]
if args.inProcess {
    reports = args.seeds.map { SweepRunner.run(seed: $0, args) }
} else {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
    let executable = me.contains("/") ? me : (Bundle.main.executablePath ?? me)
    reports = SweepRunner(arguments: args, executable: executable).runAll()
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
let jobs = args.inProcess ? 1 : max(1, min(args.jobs, args.seeds.count))

var passed = 0, failed = 0, safetyPassed = 0, livenessPassed = 0
var ticks: UInt64 = 0, deliveries = 0, ops = 0
var coverage = Coverage()
var disksLost = 0, diskLossSeeds = 0, recoveries = 0
for r in reports {
    disksLost += r.disksLost
    diskLossSeeds += r.disksLost > 0 ? 1 : 0
    recoveries += r.recoveries
    ticks += r.ticks
    deliveries += r.deliveries
    ops += r.operations
    coverage += r.coverage
    if r.failedPhase != "safety" && r.failedPhase != "trap" { safetyPassed += 1 }
    if r.livenessTicks != nil && r.failedPhase != "liveness" { livenessPassed += 1 }
    if r.passed {
        passed += 1
        if !args.quiet {
            if args.seeds.count == 1 { print("seed \(r.seed) parameters: \(r.parameters)") }
            print("seed \(r.seed): ok  ticks=\(r.ticks) converged=\(r.livenessTicks.map(String.init) ?? "-") deliveries=\(r.deliveries) ops=\(r.operations) retries=\(r.retries) restarts=\(r.restarts) maxTerm=\(r.maxTerm) trace=\(String(r.traceHash, radix: 16))")
        }
    } else {
        failed += 1
        print("seed \(r.seed): FAILED in the \(r.failedPhase ?? "?") phase: \(r.failure ?? "")")
        print("  parameters: \(r.parameters)")
        if !r.lastEvents.isEmpty {
            print("  last events:")
            for e in r.lastEvents.suffix(30) { print("    \(e)") }
        }
        print("  replay: \(args.replayCommand(r.seed))")
    }
}
if !args.quiet || args.seeds.count >= 100 {
    print("coverage over \(reports.count) seed(s):")
    for p in CoveragePath.allCases { print("  \(p.label): \(coverage[p])") }
}
// Wall-clock rates over all jobs, plus the same per job (one core each).
print(String(format: "speed: %.0f message deliveries/s and %.0f ticks/s wall clock (%d job(s), %.1f s); %.0f deliveries/s per job; %d client ops",
             Double(deliveries) / seconds, Double(ticks) / seconds, jobs, seconds,
             Double(deliveries) / seconds / Double(jobs), ops))
if disksLost > 0 {
    print("disk loss: \(disksLost) whole disk(s) lost on \(diskLossSeeds) seed(s); \(recoveries) recovery(ies) finished")
}
print("phases: safety (under faults) passed \(safetyPassed)/\(reports.count), liveness (after healing) passed \(livenessPassed)/\(reports.count)")
print("simulate: \(passed) passed, \(failed) failed")
exit(failed == 0 ? 0 : 1)
