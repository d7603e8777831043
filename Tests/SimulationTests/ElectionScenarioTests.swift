import Raft
import Simulation
import XCTest

final class ElectionScenarioTests: XCTestCase {
    func testInitialElectionPicksOneLeaderAndTermsAgree() throws {
        for seed in UInt64(1)...20 {
            let c = SimCluster(nodes: 3, seed: seed)
            let l = try c.awaitLeader()
            c.run(ticks: 20) // let heartbeats reach everyone
            let terms = Set(c.liveIDs.map { c.node($0)!.term })
            XCTAssertEqual(terms.count, 1, "seed \(seed): terms disagree \(terms)")
            XCTAssertEqual(c.leaders, [l], "seed \(seed)")
            for id in c.liveIDs where id != l { XCTAssertEqual(c.node(id)!.leader, l, "seed \(seed)") }
            // Nothing fails: the term must not change.
            let term = c.maxTerm
            c.run(ticks: 500)
            XCTAssertEqual(c.maxTerm, term, "seed \(seed): term changed without failures")
            XCTAssertEqual(c.leader, l)
            c.assertNoViolation()
        }
    }

    func testReelectionAfterLeaderIsCutOff() throws {
        let c = SimCluster(nodes: 3, seed: 11)
        let old = try c.awaitLeader()
        let others = c.ids.filter { $0 != old }
        c.partition([[old], others])
        XCTAssertTrue(c.run(upTo: 300) { c in c.leaders.contains { $0 != old && c.node($0)!.term > c.node(old)!.term } })
        // The old leader hears nobody: checkQuorum makes it step down.
        XCTAssertTrue(c.run(upTo: 100) { $0.node(old)!.role != .leader })
        c.heal()
        let l = try c.awaitLeader()
        c.run(ticks: 50)
        XCTAssertEqual(c.leaders, [l])
        XCTAssertEqual(Set(c.liveIDs.map { c.node($0)!.term }).count, 1)
        c.assertNoViolation()
    }

    func testNoLeaderWithoutMajorityThenRecovery() throws {
        let c = SimCluster(nodes: 5, seed: 5)
        let l = try c.awaitLeader()
        let rest = c.ids.filter { $0 != l }
        // Leader plus one follower on one side, three isolated singletons on the other.
        c.partition([[l, rest[0]], [rest[1]], [rest[2]], [rest[3]]])
        c.run(ticks: 500)
        XCTAssertTrue(c.leaders.isEmpty, "no majority anywhere, yet \(c.leaders) lead")
        c.heal()
        _ = try c.awaitLeader()
        c.assertNoViolation()
    }

    func testManyElectionsSevenNodesRandomDisconnects() throws {
        let c = SimCluster(nodes: 7, seed: 77)
        _ = try c.awaitLeader()
        var rng = SeededRandom(seed: 99)
        for round in 0..<15 {
            var shuffled = c.ids
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
            let cut = Array(shuffled.prefix(3))
            c.partition([cut, Array(shuffled.dropFirst(3))])
            // Four of seven remain connected: they must have a leader.
            XCTAssertTrue(c.run(upTo: 400) { cl in cl.leaders.contains { !cut.contains($0) } }, "round \(round): the connected four elect a leader")
            c.heal()
            c.run(ticks: 30)
        }
        _ = try c.awaitLeader()
        c.assertNoViolation()
    }
}
