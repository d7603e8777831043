import KV
import Raft
import Replica
import Simulation
import XCTest

final class PersistenceScenarioTests: XCTestCase {
    private func commitPuts(_ c: SimCluster, _ range: ClosedRange<Int>, key: String = "p", file: StaticString = #filePath, line: UInt = #line) {
        for i in range {
            var done = false
            for _ in 0..<10 where !done {
                guard c.run(upTo: 300, until: { $0.leader != nil }), let t = c.putOnLeader(key, "\(i)", seq: UInt64(i)) else { continue }
                done = c.run(upTo: 100) { $0.directReplies[t] != nil } && c.directReplies[t] != .dropped
            }
            XCTAssertTrue(done, "put \(i) never committed", file: file, line: line)
        }
    }

    func testRestartAllKeepsCommittedState() throws {
        let c = SimCluster(nodes: 3, seed: 51)
        _ = try c.awaitLeader()
        commitPuts(c, 1...5)
        for id in c.ids { c.crash(id) }
        for id in c.ids { c.restart(id) }
        _ = try c.awaitLeader()
        XCTAssertTrue(c.run(upTo: 200) { c in c.ids.allSatisfy { c.value("p", on: $0) == "5" } }, "committed writes survive a full restart")
        commitPuts(c, 6...7)
        c.checkLogs()
        c.assertNoViolation()
    }

    func testRestartLeaderRepeatedly() throws {
        let c = SimCluster(nodes: 3, seed: 52)
        for round in 0..<5 {
            let l = try c.awaitLeader()
            commitPuts(c, (round * 3 + 1)...(round * 3 + 3))
            c.crash(l)
            c.run(ticks: 30)
            c.restart(l)
        }
        _ = try c.awaitLeader()
        XCTAssertTrue(c.run(upTo: 300) { c in c.ids.allSatisfy { c.value("p", on: $0) == "15" } })
        c.assertNoViolation()
    }

    func testCrashMajorityAndRestart() throws {
        let c = SimCluster(nodes: 5, seed: 53)
        _ = try c.awaitLeader()
        commitPuts(c, 1...4)
        let victims = Array(c.ids.prefix(3))
        for v in victims { c.crash(v) }
        c.run(ticks: 100)
        // Two of five cannot commit anything new.
        let t = c.liveIDs.first.flatMap { id in c.propose(on: id, ClientRequest(clientID: 9, sequence: 1, firstUnacknowledged: 1, command: .put(key: Array("q".utf8), value: [1]))).token }
        c.run(ticks: 100)
        if let t, case .result = c.directReplies[t] { XCTFail("a minority committed a write") }
        for v in victims { c.restart(v) }
        _ = try c.awaitLeader()
        commitPuts(c, 5...6)
        XCTAssertTrue(c.run(upTo: 300) { c in c.ids.allSatisfy { c.value("p", on: $0) == "6" } })
        c.assertNoViolation()
    }

    func testFigure8ManyLeaderCrashesNeverLoseCommittedEntries() throws {
        // Five nodes, leaders crash right after proposing; old-term entries must never be
        // committed by counting (the invariant checker verifies every applied index).
        for seed in UInt64(1)...10 {
            let c = SimCluster(nodes: 5, seed: 800 + seed)
            var rng = SeededRandom(seed: seed)
            var seq: UInt64 = 0
            for _ in 0..<60 {
                if let l = c.leader {
                    seq += 1
                    _ = c.propose(on: l, ClientRequest(clientID: 5, sequence: seq, firstUnacknowledged: 1, command: .put(key: [1], value: Array("\(seq)".utf8))))
                }
                c.run(ticks: rng.chance(0.5) ? Int(rng.below(3)) : Int(rng.below(40)))
                if let l = c.leader, rng.chance(0.5) { c.crash(l) }
                if c.liveIDs.count < 3 {
                    let down = c.ids.filter { !c.isUp($0) }
                    c.restart(down[Int(rng.below(UInt64(down.count)))])
                }
                if c.invariants.violation != nil { break }
            }
            for id in c.ids { c.restart(id) }
            XCTAssertTrue(c.run(upTo: 1000) { c in c.leader != nil && Set(c.appliedIndexes.values).count == 1 && c.commits.allSatisfy { $0 == c.commits[0] } }, "seed \(seed) did not converge")
            c.checkLogs()
            c.assertNoViolation()
        }
    }

    func testUnreliableNetworkAgreement() throws {
        let c = SimCluster(nodes: 5, seed: 61)
        var f = NetworkFaults()
        f.dropRate = 0.1
        f.duplicateRate = 0.1
        f.maxDelay = 3
        f.longDelayRate = 0.05
        f.longDelay = 40
        c.network.faults = f
        commitPuts(c, 1...30, key: "u")
        c.network.faults = NetworkFaults()
        XCTAssertTrue(c.run(upTo: 500) { c in c.ids.allSatisfy { c.value("u", on: $0) == "30" } })
        c.checkLogs()
        c.assertNoViolation()
    }
}
