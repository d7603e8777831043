import KV
import Raft
import Replica
import Simulation
import XCTest

/// Lagging followers catch up through InstallSnapshot when the leader has compacted.
final class SnapshotScenarioTests: XCTestCase {
    private func compactingCluster(seed: UInt64, nodes: Int = 3, chunk: Int = 64) -> SimCluster {
        var o = SimCluster.Options()
        o.snapshotEvery = 20
        o.retainedTail = 5
        o.snapshotChunkBytes = chunk
        return SimCluster(nodes: nodes, seed: seed, options: o)
    }

    private func commit(_ c: SimCluster, _ n: Int, from: Int = 1) {
        for i in from..<(from + n) {
            var ok = false
            for _ in 0..<10 where !ok {
                guard c.run(upTo: 300, until: { $0.leader != nil }),
                      let t = c.putOnLeader("s\(i % 5)", String(repeating: "v\(i)", count: 8), seq: UInt64(i)) else { continue }
                ok = c.run(upTo: 100) { $0.directReplies[t] != nil } && c.directReplies[t] != .dropped
            }
            XCTAssertTrue(ok, "entry \(i) never committed")
        }
    }

    func testLaggingFollowerCatchesUpThroughSnapshot() throws {
        let c = compactingCluster(seed: 301)
        let l = try c.awaitLeader()
        let f = c.ids.first { $0 != l }!
        c.partition([[f], c.ids.filter { $0 != f }])
        commit(c, 100)
        XCTAssertGreaterThan(c.leader.flatMap { c.node($0)?.log.compactedIndex } ?? 0, 50, "the leader compacted its log")
        let before = c.sentByKind["InstallSnapshot", default: 0]
        c.heal()
        XCTAssertTrue(c.run(upTo: 500) { c in Set(c.appliedIndexes.values).count == 1 && c.value("s4", on: f) != nil })
        XCTAssertGreaterThan(c.sentByKind["InstallSnapshot", default: 0] - before, 1, "caught up via a chunked snapshot")
        XCTAssertEqual(c.replica(f)?.kv.data, c.leader.flatMap { c.replica($0)?.kv.data })
        c.checkLogs()
        c.assertNoViolation()
    }

    func testLeaderChangesMidTransfer() throws {
        let c = compactingCluster(seed: 302, nodes: 5, chunk: 16)
        let l = try c.awaitLeader()
        let f = c.ids.first { $0 != l }!
        c.partition([[f], c.ids.filter { $0 != f }])
        commit(c, 80)
        c.heal()
        // Wait until a transfer has started, then take the leader away.
        XCTAssertTrue(c.run(upTo: 200) { $0.sentByKind["InstallSnapshot", default: 0] > 0 })
        let leader = try XCTUnwrap(c.leader)
        c.crash(leader)
        XCTAssertTrue(c.run(upTo: 600) { c in c.leader != nil && c.leader != leader })
        commit(c, 20, from: 81)
        c.restart(leader)
        XCTAssertTrue(c.run(upTo: 800) { c in Set(c.appliedIndexes.values).count == 1 }, "everyone converges after the new leader finishes the transfer")
        XCTAssertEqual(c.replica(f)?.kv.data, c.leader.flatMap { c.replica($0)?.kv.data })
        c.checkLogs()
        c.assertNoViolation()
    }

    func testReceiverCrashesMidTransfer() throws {
        let c = compactingCluster(seed: 303, chunk: 16)
        let l = try c.awaitLeader()
        let f = c.ids.first { $0 != l }!
        c.partition([[f], c.ids.filter { $0 != f }])
        commit(c, 80)
        c.heal()
        XCTAssertTrue(c.run(upTo: 200) { $0.sentByKind["InstallSnapshot", default: 0] > 2 })
        c.crash(f)
        c.run(ticks: 20)
        c.restart(f)
        XCTAssertTrue(c.run(upTo: 800) { c in Set(c.appliedIndexes.values).count == 1 && c.liveIDs.count == 3 }, "the transfer restarts cleanly")
        XCTAssertEqual(c.replica(f)?.kv.data, c.leader.flatMap { c.replica($0)?.kv.data })
        c.assertNoViolation()
    }

    func testRestartFromSnapshotAndLogTail() throws {
        let c = compactingCluster(seed: 304)
        _ = try c.awaitLeader()
        commit(c, 60)
        for id in c.ids { c.crash(id) }
        for id in c.ids { c.restart(id) }
        _ = try c.awaitLeader()
        XCTAssertTrue(c.run(upTo: 300) { c in c.ids.allSatisfy { c.value("s4", on: $0) != nil } && Set(c.appliedIndexes.values).count == 1 })
        for id in c.ids { XCTAssertGreaterThan(c.node(id)!.log.compactedIndex, 0, "n\(id) restarted from a snapshot") }
        c.assertNoViolation()
    }

    func testSnapshotByBytesThreshold() throws {
        var o = SimCluster.Options()
        o.snapshotEvery = 0
        o.snapshotBytes = 1_000
        o.retainedTail = 5
        let c = SimCluster(nodes: 3, seed: 305, options: o)
        _ = try c.awaitLeader()
        commit(c, 10) // about 10 x 40 bytes: below the threshold
        XCTAssertEqual(c.leader.flatMap { c.node($0)?.latestSnapshotIndex }, 0)
        commit(c, 40, from: 11)
        XCTAssertGreaterThan(c.leader.flatMap { c.node($0)?.latestSnapshotIndex } ?? 0, 0, "the byte threshold triggered a snapshot")
        c.assertNoViolation()
    }
}
