import KV
import Raft
import Replica
import Simulation
import XCTest

final class PartitionScenarioTests: XCTestCase {
    func testMinorityLeaderCannotCommitAndIsOverwrittenAfterHeal() throws {
        let c = SimCluster(nodes: 5, seed: 71)
        let old = try c.awaitLeader()
        c.run(ticks: 5)
        let rest = c.ids.filter { $0 != old }
        let minority = [old, rest[0]]
        let majority = Array(rest.dropFirst())
        c.partition([minority, majority])
        var minorityTokens: [UInt64] = []
        for i in 1...5 { if let t = c.putOnLeader("m", "minority\(i)", seq: UInt64(i)) { minorityTokens.append(t) } }
        XCTAssertEqual(minorityTokens.count, 5)
        // The majority elects its own leader and proceeds.
        XCTAssertTrue(c.run(upTo: 300) { c in c.leaders.contains { majority.contains($0) } })
        let l2 = c.leaders.first { majority.contains($0) }!
        let session = try XCTUnwrap(c.registerSession(on: l2))
        let tok = try XCTUnwrap(c.propose(on: l2, session: session, seq: 1, .put(key: Array("m".utf8), value: Array("majority".utf8))))
        XCTAssertTrue(c.run(upTo: 100) { $0.directReplies[tok] != nil })
        // The minority's writes never applied anywhere.
        for id in c.ids { XCTAssertFalse(c.value("m", on: id)?.hasPrefix("minority") ?? false) }
        c.heal()
        XCTAssertTrue(c.run(upTo: 300) { c in minorityTokens.allSatisfy { c.directReplies[$0] != nil } && c.ids.allSatisfy { c.value("m", on: $0) == "majority" } })
        for t in minorityTokens { XCTAssertEqual(c.directReplies[t], .dropped) }
        c.checkLogs()
        c.assertNoViolation()
    }

    func testOneWayPartitionLeaderCannotHearFollowers() throws {
        let c = SimCluster(nodes: 3, seed: 72)
        let l = try c.awaitLeader()
        // The leader's messages still arrive, but nothing reaches it.
        for id in c.ids where id != l { c.cut(from: id, to: l) }
        // checkQuorum: the deaf leader steps down; the others elect a leader among themselves.
        XCTAssertTrue(c.run(upTo: 400) { c in c.node(l)!.role != .leader })
        XCTAssertTrue(c.run(upTo: 600) { c in c.leaders.contains { $0 != l } })
        c.heal()
        _ = try c.awaitLeader()
        c.run(ticks: 30)
        XCTAssertEqual(c.leaders.count, 1)
        c.assertNoViolation()
    }

    func testBridgeNodeKeepsClusterAvailable() throws {
        let c = SimCluster(nodes: 5, seed: 73)
        _ = try c.awaitLeader()
        // {1,2} and {4,5} cannot talk; 3 talks to everyone.
        c.partition([[1, 2], [4, 5]], bridges: [3])
        var ok = 0
        for i in 1...10 {
            guard c.run(upTo: 400, until: { $0.leader != nil }), let t = c.putOnLeader("b", "\(i)", seq: UInt64(i)) else { continue }
            if c.run(upTo: 100, until: { $0.directReplies[t] != nil }), case .result = c.directReplies[t] { ok += 1 }
        }
        XCTAssertGreaterThan(ok, 0, "a bridge node gives a majority path, so writes commit")
        c.heal()
        XCTAssertTrue(c.run(upTo: 500) { c in c.leader != nil && Set(c.appliedIndexes.values).count == 1 })
        c.checkLogs()
        c.assertNoViolation()
    }

    func testSymmetricPartitionHealsToOneLeader() throws {
        let c = SimCluster(nodes: 5, seed: 74)
        _ = try c.awaitLeader()
        c.partition([[1, 2], [3, 4, 5]])
        XCTAssertTrue(c.run(upTo: 400) { c in c.leaders.contains { [3, 4, 5].contains($0) } })
        c.run(ticks: 200)
        XCTAssertFalse(c.leaders.contains { [1, 2].contains($0) }, "the minority side has no leader once checkQuorum fires")
        c.heal()
        _ = try c.awaitLeader()
        c.run(ticks: 50)
        XCTAssertEqual(c.leaders.count, 1)
        c.assertNoViolation()
    }

    func testChurnUnderClientLoadIsLinearizable() throws {
        // The full randomized runner: crashes, restarts, partitions, loss, duplication and
        // reordering, then healing; invariants and linearizability checked.
        for seed in UInt64(1)...8 {
            var cfg = SimulationConfig()
            cfg.seed = 9000 + seed
            cfg.nodes = 5
            cfg.faultTicks = 1500
            let r = runSimulation(cfg)
            XCTAssertTrue(r.passed, "seed \(cfg.seed): \(r.failure ?? "")\n\(r.lastEvents.joined(separator: "\n"))")
            XCTAssertGreaterThan(r.operations, 50, "clients made progress")
        }
    }

    func testSameSeedGivesSameTrace() throws {
        var cfg = SimulationConfig()
        cfg.seed = 4242
        cfg.faultTicks = 800
        let a = runSimulation(cfg), b = runSimulation(cfg)
        XCTAssertEqual(a.traceHash, b.traceHash)
        XCTAssertEqual(a.deliveries, b.deliveries)
        cfg.seed = 4243
        let d = runSimulation(cfg)
        XCTAssertNotEqual(a.traceHash, d.traceHash, "different seeds explore different runs")
    }
}
