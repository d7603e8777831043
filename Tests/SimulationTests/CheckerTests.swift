import Raft
@testable import Simulation
import SimulateCommand
import Foundation
import XCTest

/// The checkers state the properties exactly: no false positives, no blind spots.
final class CheckerTests: XCTestCase {
    private func log(terms: [Term]) -> RaftLog {
        let entries = terms.enumerated().map { Entry(term: $0.element, index: LogIndex($0.offset + 1), kind: .noop) }
        let state = PersistentState(hardState: HardState(term: terms.last ?? 0), entries: entries)
        return RaftNode(config: RaftConfig(id: 1, voters: [1, 2, 3]), state: state, seed: 1).log
    }

    /// Seed 6146's shape (issue #8 §1): a candidate paused in term 2 wins term 2 after term 3
    /// committed an entry at index 1. §5.4 asks a leader of term T only for entries committed
    /// in terms before T, so this is legal; a leader of term 4 without it is not.
    func testLeaderCompletenessAsksOnlyForEntriesCommittedInEarlierTerms() {
        var c = InvariantChecker()
        c.observeCommit(1, term: 3)
        c.observeApply(node: 1, entry: Entry(term: 3, index: 1, kind: .noop))
        c.observeLeader(2, term: 2, log: log(terms: [2]))
        XCTAssertNil(c.violation, "a leader of term 2 need not hold what term 3 committed")
        c.observeLeader(3, term: 4, log: log(terms: [2, 4]))
        let v = try? XCTUnwrap(c.violation)
        XCTAssertTrue(v?.contains("leader completeness") == true, v ?? "no violation")
        XCTAssertTrue(v?.contains("committed there in term 3") == true, v ?? "")
    }

    func testElectionSafetyStillCatchesTwoLeadersInOneTerm() {
        var c = InvariantChecker()
        c.observeLeader(1, term: 5, log: log(terms: [5]))
        c.observeLeader(2, term: 5, log: log(terms: [5]))
        XCTAssertTrue(c.violation?.contains("election safety") == true, c.violation ?? "no violation")
    }

    /// The regression seed passes in the shape it failed in (it still runs under faults).
    func testSeed6146WithThreeNodesAndSnapshotsPasses() {
        var cfg = SimulationConfig()
        cfg.seed = 6146
        cfg.nodes = 3
        cfg.snapshotEvery = 20
        let r = runSimulation(cfg)
        XCTAssertNil(r.failure, "seed 6146: \(r.failure ?? "")\n" + r.lastEvents.joined(separator: "\n"))
        XCTAssertGreaterThan(r.operations, 0)
    }

    /// Rule 4 in the send path: a grant or an ack without durable state behind it is named.
    func testBrokenPromisesAreNamed() {
        let d = DurableState(openedNode: RaftNode(config: RaftConfig(id: 2, voters: [1, 2, 3]),
                                                  state: PersistentState(hardState: HardState(term: 4, vote: noNode),
                                                                         entries: [Entry(term: 1, index: 1), Entry(term: 4, index: 2)]),
                                                  seed: 1))
        let grant = Message(from: 2, to: 1, term: 4, kind: .requestVoteResponse(granted: true))
        XCTAssertNotNil(brokenPromise(grant, durable: d, memTerm: { _ in nil }), "vote not durable")
        let ack = Message(from: 2, to: 1, term: 4, kind: .appendEntriesResponse(success: true, index: 3, hintTerm: 0, hintIndex: 0))
        XCTAssertNotNil(brokenPromise(ack, durable: d, memTerm: { _ in 4 }), "entry 3 not durable")
        let ackOK = Message(from: 2, to: 1, term: 4, kind: .appendEntriesResponse(success: true, index: 2, hintTerm: 0, hintIndex: 0))
        XCTAssertNil(brokenPromise(ackOK, durable: d, memTerm: { _ in 4 }))
        let overwritten = brokenPromise(ackOK, durable: d, memTerm: { _ in 3 })
        XCTAssertNotNil(overwritten, "durable entry 2 has another term than the one acknowledged")
        let ahead = Message(from: 2, to: 1, term: 5, kind: .heartbeatResponse)
        XCTAssertNotNil(brokenPromise(ahead, durable: d, memTerm: { _ in nil }), "term 5 not durable")
        let rejection = Message(from: 2, to: 1, term: 4, kind: .requestVoteResponse(granted: false))
        XCTAssertNil(brokenPromise(rejection, durable: d, memTerm: { _ in nil }))
    }
}

/// Every replay command the sweep prints runs the run it names.
final class ReplayCommandTests: XCTestCase {
    func testReplayCommandsParseBackToTheSameRun() throws {
        let lines: [[String]] = [
            ["--seeds", "1-10"],
            ["--seeds", "5-9", "--nodes", "3", "--snapshot-every", "20"],
            ["--seeds", "1-3", "--faults", "crashes,drops", "--fault-ticks", "300", "--heal-ticks", "900", "--clients", "2", "--keys", "3"],
            ["--seed", "7", "--faults", "none", "--workload", "divergent", "--snapshot-every", "0"],
        ]
        for flags in lines {
            let (args, _) = try SimulateArguments.parse(flags)
            let seed = args.seeds.last!
            let command = args.replayCommand(seed)
            XCTAssertFalse(command.contains("("), "not pasteable: \(command)")
            let words = command.split(separator: " ").map(String.init)
            XCTAssertEqual(Array(words.prefix(5)), ["swift", "run", "-c", "release", "simulate"], command)
            let (replayed, _) = try SimulateArguments.parse(Array(words.dropFirst(5)))
            XCTAssertEqual(replayed.seeds, [seed], command)
            XCTAssertEqual(replayed.config, args.config, command)
        }
    }

    /// And replaying gives the very same run (trace hash), short runs to stay quick.
    func testReplayedSeedGivesTheSameTrace() throws {
        let (args, _) = try SimulateArguments.parse(["--seeds", "3-4", "--fault-ticks", "200", "--heal-ticks", "2000", "--nodes", "3"])
        let (replayed, _) = try SimulateArguments.parse(Array(args.replayCommand(4).split(separator: " ").map(String.init).dropFirst(5)))
        var a = args.config, b = replayed.config
        a.seed = 4
        b.seed = replayed.seeds[0]
        XCTAssertEqual(runSimulation(a).traceHash, runSimulation(b).traceHash)
    }
}

/// A trap in one seed is that seed's failure, with its replay command; the sweep goes on.
final class TrapReportTests: XCTestCase {
    private func simulateBinary() throws -> URL {
        var dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        for b in Bundle.allBundles + [Bundle.main] { dirs += [b.bundleURL.deletingLastPathComponent(), b.bundleURL] }
        for d in dirs where FileManager.default.isExecutableFile(atPath: d.appendingPathComponent("simulate").path) {
            return d.appendingPathComponent("simulate")
        }
        throw XCTSkip("simulate not found next to the test bundle; run `swift build` first")
    }

    func testATrappingSeedIsReportedAndTheSweepGoesOn() throws {
        let p = Process()
        p.executableURL = try simulateBinary()
        p.arguments = ["--seeds", "1-3", "--inject-trap", "2", "--fault-ticks", "100", "--heal-ticks", "2000", "--jobs", "1", "--nodes", "3"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, text)
        XCTAssertTrue(text.contains("seed 1: ok"), text)
        XCTAssertTrue(text.contains("seed 2: FAILED in the trap phase"), text)
        XCTAssertTrue(text.contains("injected trap in seed 2"), text)
        XCTAssertTrue(text.contains("replay: swift run -c release simulate --seed 2 --nodes 3 --fault-ticks 100 --heal-ticks 2000 --inject-trap 2"), text)
        XCTAssertTrue(text.contains("seed 3: ok"), text)
        XCTAssertTrue(text.contains("simulate: 2 passed, 1 failed"), text)
    }
}
