import CLI
import Simulation

/// simulate's command line: which seeds, with which settings, and how to run them. Kept out
/// of `main` so that tests can check that every printed replay command parses back to the
/// run it names.
public struct SimulateArguments: Sendable, Equatable {
    public var seeds: [UInt64] = [1]
    /// Settings shared by every seed (what a seed does not draw itself).
    public var config = SimulationConfig()
    public var jobs = 2
    public var quiet = false
    public var checkDeterminism = false
    /// Internal: run the seeds in this process and stream results (see `SweepRunner`).
    public var worker = false
    /// Run seeds in this process (no child processes): a trap then ends the sweep.
    public var inProcess = false
    /// Internal, for testing how a trap is reported: this seed fails a precondition.
    public var injectTrap: UInt64?

    public init() {}

    /// The flags, with their help text.
    public static var parser: FlagParser {
        var p = FlagParser(command: "simulate", summary: "Deterministic fault-injection simulation of a RaftKV cluster.")
        p.int("seed", default: nil, range: 0...Int.max, help: "run one seed")
        p.string("seeds", default: nil, help: "run a range of seeds, e.g. 1-1000")
        p.int("nodes", default: nil, range: 1...9, help: "cluster size (default: each seed draws 3 or 5)")
        p.int("fault-ticks", default: 2000, range: 0...10_000_000, help: "ticks of random faults per seed (the safety phase)")
        p.int("heal-ticks", default: 3000, range: 1...10_000_000, help: "bound on the healing phase (the liveness phase)")
        p.int("clients", default: 4, range: 1...64, help: "concurrent clients")
        p.int("keys", default: 4, range: 1...1000, help: "distinct keys the clients use")
        p.string("faults", default: "all", help: "comma list of: all, none, " + FaultSet.names.map(\.0).joined(separator: ", "))
        p.int("snapshot-every", default: nil, range: 0...Int.max,
              help: "snapshot and compact every N entries (0: never; default: a share of seeds draw a small interval)")
        p.string("workload", default: nil, help: "force a workload: " + Workload.allCases.map(\.rawValue).joined(separator: ", ") + " (default: each seed draws)")
        p.int("window", default: nil, range: 1...256, help: "requests each client pipelines (default: each seed draws 1, 4, 8 or 16)")
        p.choice("session-churn", choices: ["on", "off"], default: nil,
                 help: "short-lived clients evicting sessions from a small table (default: one seed in three)")
        p.int("jobs", default: 2, range: 1...64, help: "seeds run in parallel, each job in its own child process (output order is unchanged)")
        p.bool("quiet", help: "print only failures and the summary")
        p.bool("check-determinism", help: "run every seed twice and compare trace hashes")
        p.bool("in-process", help: "run seeds in this process: faster to debug, but a trap ends the whole sweep")
        p.int("inject-trap", default: nil, range: 0...Int.max, help: "internal, for testing trap reports: this seed fails a precondition")
        p.bool("worker", help: "internal: run the seeds here and stream one result per line (used by the parent process)")
        return p
    }

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case flags(String)
        case invalid(String)
        public var description: String {
            switch self {
            case let .flags(s), let .invalid(s): return s
            }
        }
    }

    public static func parse(_ arguments: [String]) throws(ParseError) -> (SimulateArguments, helpRequested: Bool) {
        let parser = Self.parser
        let flags: ParsedFlags
        do {
            flags = try parser.parse(arguments)
        } catch {
            throw .flags("\(error)")
        }
        var a = SimulateArguments()
        var seeds: [UInt64] = []
        if flags.isSet("seed") && flags.isSet("seeds") { throw .invalid("give --seed or --seeds, not both") }
        if let s = flags.int("seed") { seeds = [UInt64(s)] }
        if let r = flags.string("seeds") {
            let parts = r.split(separator: "-").map { UInt64($0) }
            guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi, hi - lo < 10_000_000 else {
                throw .invalid("--seeds wants A-B with A <= B, e.g. 1-1000 (got \(r))")
            }
            seeds += Array(lo...hi)
        }
        a.seeds = seeds.isEmpty ? [1] : seeds
        var faults: FaultSet = []
        for name in (flags.string("faults") ?? "all").split(separator: ",").map({ String($0).trimmed }) {
            if name == "all" { faults.formUnion(.all); continue }
            if name == "none" { continue }
            guard let f = FaultSet.names.first(where: { $0.0 == name })?.1 else {
                throw .invalid("unknown fault '\(name)'; choose from all, none, \(FaultSet.names.map(\.0).joined(separator: ", "))")
            }
            faults.formUnion(f)
        }
        a.config.faults = faults
        a.config.nodes = flags.int("nodes")
        a.config.faultTicks = flags.int("fault-ticks")!
        a.config.healTicks = flags.int("heal-ticks")!
        a.config.clients = flags.int("clients")!
        a.config.keys = flags.int("keys")!
        a.config.snapshotEvery = flags.int("snapshot-every").map { UInt64($0) }
        if let w = flags.string("workload") {
            guard let wl = Workload(rawValue: w) else {
                throw .invalid("unknown workload '\(w)'; choose from \(Workload.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            a.config.workload = wl
        }
        a.config.window = flags.int("window").map { UInt64($0) }
        a.config.sessionChurn = flags.string("session-churn").map { $0 == "on" }
        a.jobs = flags.int("jobs")!
        a.quiet = flags.bool("quiet")
        a.checkDeterminism = flags.bool("check-determinism")
        a.inProcess = flags.bool("in-process")
        a.worker = flags.bool("worker")
        a.injectTrap = flags.int("inject-trap").map { UInt64($0) }
        return (a, flags.helpRequested)
    }

    /// The flags that make `config` (with `seed`) the run it is: the seed and every setting
    /// that differs from the defaults. Parsing them back gives the same configuration.
    public static func replayFlags(seed: UInt64, _ c: SimulationConfig) -> [String] {
        let d = SimulationConfig()
        var f = ["--seed", String(seed)]
        if let n = c.nodes { f += ["--nodes", String(n)] }
        if c.faultTicks != d.faultTicks { f += ["--fault-ticks", String(c.faultTicks)] }
        if c.healTicks != d.healTicks { f += ["--heal-ticks", String(c.healTicks)] }
        if c.clients != d.clients { f += ["--clients", String(c.clients)] }
        if c.keys != d.keys { f += ["--keys", String(c.keys)] }
        if c.faults != d.faults {
            let names = FaultSet.names.filter { c.faults.contains($0.1) }.map(\.0)
            f += ["--faults", names.isEmpty ? "none" : names.joined(separator: ",")]
        }
        if let s = c.snapshotEvery { f += ["--snapshot-every", String(s)] }
        if let w = c.workload { f += ["--workload", w.rawValue] }
        if let w = c.window { f += ["--window", String(w)] }
        if let churn = c.sessionChurn { f += ["--session-churn", churn ? "on" : "off"] }
        return f
    }

    /// The one command that replays `seed` with these settings, ready to paste.
    public func replayCommand(_ seed: UInt64) -> String {
        var words = ["swift", "run", "-c", "release", "simulate"] + Self.replayFlags(seed: seed, config)
        if let t = injectTrap, t == seed { words += ["--inject-trap", String(t)] }
        if checkDeterminism { words.append("--check-determinism") }
        return words.joined(separator: " ")
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
