import Dispatch
import Foundation
import Simulation

/// Runs a sweep's seeds in child processes (`simulate --worker`), one per job, so that a
/// trap in one seed (a failed precondition) is reported as that seed's failure, with its
/// replay command, and the sweep goes on: the parent starts a new child for the seeds after it.
///
/// Worker protocol, one line each on stdout: `start <seed>` before a seed runs, then
/// `report <JSON SimulationReport>` when it ends.
public struct SweepRunner: Sendable {
    public let arguments: SimulateArguments
    /// The executable to start as a worker (this one).
    public let executable: String

    public init(arguments: SimulateArguments, executable: String) {
        self.arguments = arguments
        self.executable = executable
    }

    /// Runs one seed (twice with --check-determinism).
    public static func run(seed: UInt64, _ a: SimulateArguments) -> SimulationReport {
        var cfg = a.config
        cfg.seed = seed
        precondition(a.injectTrap != seed, "injected trap in seed \(seed) (--inject-trap)")
        var r = runSimulation(cfg)
        if a.checkDeterminism && r.passed {
            let again = runSimulation(cfg)
            if again.traceHash != r.traceHash {
                r.failure = "determinism: the same seed gave trace hash \(String(r.traceHash, radix: 16)) then \(String(again.traceHash, radix: 16))"
            }
        }
        return r
    }

    /// Worker side: runs `arguments.seeds` in order and streams the results.
    public static func serveAsWorker(_ a: SimulateArguments) {
        let encoder = JSONEncoder()
        for seed in a.seeds {
            FileHandle.standardOutput.write(Data("start \(seed)\n".utf8))
            let r = run(seed: seed, a)
            var line = Data("report ".utf8)
            line.append((try? encoder.encode(r)) ?? Data("{}".utf8))
            line.append(Data("\n".utf8))
            FileHandle.standardOutput.write(line)
        }
    }

    /// Parent side: every seed's report, in seed order.
    public func runAll() -> [SimulationReport] {
        let seeds = arguments.seeds
        let jobs = max(1, min(arguments.jobs, seeds.count))
        let chunk = (seeds.count + jobs - 1) / jobs
        let results = ReportSlots(seeds.count)
        DispatchQueue.concurrentPerform(iterations: jobs) { j in
            let lo = j * chunk, hi = min(seeds.count, lo + chunk)
            guard lo < hi else { return }
            var next = lo
            while next < hi {
                next = runChild(seeds: Array(seeds[next..<hi]), firstSlot: next, into: results)
            }
        }
        return results.reports.compactMap { $0 }
    }

    /// Runs `seeds` in one child; returns the slot after the last seed it accounted for (a
    /// trapped seed counts, as a failure).
    private func runChild(seeds: [UInt64], firstSlot: Int, into results: ReportSlots) -> Int {
        var a = arguments
        a.seeds = seeds
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = workerFlags(a)
        // The trap's message is what the report needs; a full backtrace only slows the restart.
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            for (k, seed) in seeds.enumerated() {
                results.set(firstSlot + k, trapReport(seed, "could not start a worker process (\(executable)): \(error)"))
            }
            return firstSlot + seeds.count
        }
        // Drain stderr on the side so a chatty child never blocks on a full pipe.
        let errText = ErrBuffer()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errText.data = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let decoder = JSONDecoder()
        var done = 0
        var started: UInt64?
        var buffer = Data()
        let reader = out.fileHandleForReading
        func handle(_ line: Data) {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("start ") {
                started = UInt64(text.dropFirst(6))
            } else if text.hasPrefix("report "), let r = try? decoder.decode(SimulationReport.self, from: Data(line.dropFirst(7))) {
                results.set(firstSlot + done, r)
                done += 1
                started = nil
            }
        }
        while true {
            let d = reader.availableData
            if d.isEmpty { break }
            buffer.append(d)
            while let nl = buffer.firstIndex(of: 0x0A) {
                handle(buffer[buffer.startIndex..<nl])
                buffer = Data(buffer[(nl + 1)...])
            }
        }
        p.waitUntilExit()
        errDone.wait()
        if done == seeds.count { return firstSlot + done }
        // The child died inside a seed (or before reporting it): that seed failed.
        let seed = started ?? seeds[done]
        let how = p.terminationReason == .uncaughtSignal ? "was killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
        let lines = String(decoding: errText.data, as: UTF8.self).split(separator: "\n")
        let fatal = lines.filter { $0.contains("Fatal error") || $0.contains("failed") }
        let tail = (fatal.isEmpty ? Array(lines.suffix(5)) : fatal).joined(separator: "\n    ")
        results.set(firstSlot + done, trapReport(seed, "trap: the run \(how)\n    \(tail)"))
        return firstSlot + done + 1
    }

    private func trapReport(_ seed: UInt64, _ why: String) -> SimulationReport {
        var cfg = arguments.config
        cfg.seed = seed
        var r = SimulationReport(seed: seed, parameters: SeedParameters(seed: seed, cfg))
        r.failure = why
        r.failedPhase = "trap"
        return r
    }

    private func workerFlags(_ a: SimulateArguments) -> [String] {
        var f = Array(SimulateArguments.replayFlags(seed: a.seeds[0], a.config).dropFirst(2))
        f += ["--seeds", "\(a.seeds.first!)-\(a.seeds.last!)", "--worker"]
        if a.checkDeterminism { f.append("--check-determinism") }
        if let t = a.injectTrap { f += ["--inject-trap", String(t)] }
        return f
    }
}

/// Slots written by several job threads, one slot per seed.
final class ReportSlots: @unchecked Sendable {
    // Safe: each slot is written by exactly one job (its own range), under the lock, and read
    // only after all jobs returned.
    private(set) var reports: [SimulationReport?]
    private let lock = NSLock()
    init(_ n: Int) { reports = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: SimulationReport) {
        lock.lock()
        reports[i] = r
        lock.unlock()
    }
}

final class ErrBuffer: @unchecked Sendable {
    // Safe: written once by the draining thread before it signals, read after the wait.
    var data = Data()
}
