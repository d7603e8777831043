import KV
import Raft
import Replica
import Simulation
import XCTest

final class AgreementScenarioTests: XCTestCase {
    func testBasicAgreementAllNodesApplySameValues() throws {
        let c = SimCluster(nodes: 3, seed: 3)
        _ = try c.awaitLeader()
        var tokens: [UInt64] = []
        for i in 1...10 { tokens.append(c.putOnLeader("k\(i)", "v\(i)", seq: UInt64(i))!) }
        XCTAssertTrue(c.run(upTo: 200) { c in tokens.allSatisfy { c.directReplies[$0] != nil } })
        for t in tokens {
            guard case .result(.stored) = c.directReplies[t] else { return XCTFail("token \(t): \(String(describing: c.directReplies[t]))") }
        }
        XCTAssertTrue(c.run(upTo: 50) { c in Set(c.appliedIndexes.values).count == 1 })
        for id in c.ids { XCTAssertEqual(c.value("k7", on: id), "v7") }
        c.assertNoViolation()
    }

    func testAgreementWithOneFollowerCutOffThenCatchUp() throws {
        let c = SimCluster(nodes: 3, seed: 8)
        let l = try c.awaitLeader()
        let f = c.ids.first { $0 != l }!
        c.partition([[f], c.ids.filter { $0 != f }])
        var tokens: [UInt64] = []
        for i in 1...5 { tokens.append(c.putOnLeader("a", "v\(i)", seq: UInt64(i))!) }
        XCTAssertTrue(c.run(upTo: 100) { c in tokens.allSatisfy { c.directReplies[$0] != nil } }, "two of three commit")
        XCTAssertNil(c.value("a", on: f))
        c.heal()
        XCTAssertTrue(c.run(upTo: 200) { $0.value("a", on: f) == "v5" }, "the cut-off follower catches up")
        c.assertNoViolation()
    }

    func testNoCommitWithoutMajorityThenCommitAfterRejoin() throws {
        var opts = SimCluster.Options()
        opts.checkQuorum = false // keep the cut-off leader in place to show it cannot commit
        let c = SimCluster(nodes: 5, seed: 21, options: opts)
        let l = try c.awaitLeader()
        c.run(ticks: 10)
        let others = c.ids.filter { $0 != l }
        c.partition([[l, others[0]], Array(others.dropFirst())])
        let before = c.node(l)!.log.committed
        let token = c.putOnLeader("x", "1", seq: 1)!
        c.run(ticks: 60)
        XCTAssertEqual(c.node(l)!.log.committed, before, "two of five cannot commit")
        XCTAssertNil(c.directReplies[token])
        // The other three elect their own leader; undo that by healing and letting the
        // original entry be decided: it either commits everywhere or is overwritten.
        c.heal()
        XCTAssertTrue(c.run(upTo: 300) { c in c.directReplies[token] != nil }, "the proposal is decided after the heal")
        c.assertNoViolation()
    }

    func testCommitResumesWhenMajorityReturns() throws {
        var opts = SimCluster.Options()
        opts.checkQuorum = false
        opts.electionTicks = 1000 // nobody else campaigns: only the leader's entries are in play
        let c = SimCluster(nodes: 3, seed: 4, options: opts)
        // Force node 1 to lead quickly.
        XCTAssertTrue(c.run(upTo: 3000) { $0.leader != nil })
        let l = try XCTUnwrap(c.leader)
        c.partition([[l], c.ids.filter { $0 != l }])
        let token = c.putOnLeader("y", "1", seq: 1)!
        c.run(ticks: 50)
        XCTAssertNil(c.directReplies[token], "no commit alone")
        c.heal()
        XCTAssertTrue(c.run(upTo: 100) { $0.directReplies[token] != nil })
        guard case .result(.stored) = c.directReplies[token] else { return XCTFail("\(String(describing: c.directReplies[token]))") }
        c.assertNoViolation()
    }

    func testConcurrentProposalsInOneTermAllCommit() throws {
        let c = SimCluster(nodes: 5, seed: 13)
        let l = try c.awaitLeader()
        let term = c.node(l)!.term
        var tokens: [UInt64] = []
        for i in 1...50 { tokens.append(c.putOnLeader("k\(i % 7)", "v\(i)", seq: 1)!) }
        XCTAssertTrue(c.run(upTo: 200) { c in tokens.allSatisfy { c.directReplies[$0] != nil } })
        XCTAssertEqual(c.node(l)!.term, term, "no election happened")
        for t in tokens { guard case .result(.stored) = c.directReplies[t] else { return XCTFail() } }
        c.assertNoViolation()
    }

    func testOldLeaderUncommittedEntriesAreDiscardedOnRejoin() throws {
        let c = SimCluster(nodes: 5, seed: 31)
        let old = try c.awaitLeader()
        c.run(ticks: 10)
        let rest = c.ids.filter { $0 != old }
        c.partition([[old], rest])
        var lost: [UInt64] = []
        for i in 1...5 { lost.append(c.putOnLeader("z", "old\(i)", seq: UInt64(i))!) }
        XCTAssertTrue(c.run(upTo: 300) { c in c.leaders.contains { $0 != old } })
        let newLeader = c.leaders.first { $0 != old }!
        let session = try XCTUnwrap(c.registerSession(on: newLeader))
        let kept = try XCTUnwrap(c.propose(on: newLeader, session: session, seq: 1, .put(key: Array("z".utf8), value: Array("new".utf8))))
        XCTAssertTrue(c.run(upTo: 100) { $0.directReplies[kept] != nil })
        c.heal()
        XCTAssertTrue(c.run(upTo: 300) { c in lost.allSatisfy { c.directReplies[$0] != nil } && Set(c.appliedIndexes.values).count == 1 })
        for t in lost { XCTAssertEqual(c.directReplies[t], .dropped, "uncommitted entries of the cut-off leader are overwritten") }
        for id in c.ids { XCTAssertEqual(c.value("z", on: id), "new") }
        c.checkLogs()
        c.assertNoViolation()
    }

    func testBackupOverLongDivergentLogsIsBoundedInRoundTrips() throws {
        // 6.824's BackupLogs shape: two divergent tails of 50+ entries on each side.
        var opts = SimCluster.Options()
        opts.maxEntriesPerAppend = 64
        let c = SimCluster(nodes: 5, seed: 41, options: opts)
        let l1 = try c.awaitLeader()
        c.run(ticks: 5)
        let others = c.ids.filter { $0 != l1 }
        // l1 and one follower: 60 entries that never commit.
        c.partition([[l1, others[0]], Array(others.dropFirst())])
        for i in 1...60 { _ = c.putOnLeader("a", "\(i)", seq: UInt64(i)) }
        c.run(ticks: 3)
        // The other three elect a leader and commit 60 entries of their own.
        XCTAssertTrue(c.run(upTo: 300) { c in c.leaders.contains { others.dropFirst().contains($0) } })
        let l2 = c.leaders.first { others.dropFirst().contains($0) }!
        let session = c.registerSession(on: l2) ?? 0
        for i in 1...60 { c.propose(on: l2, session: session, seq: UInt64(i), fua: 1, .put(key: Array("b".utf8), value: Array("\(i)".utf8))) }
        c.run(ticks: 30)
        // l2 and one follower cut off; they add 60 more uncommitted entries.
        let third = others.dropFirst().filter { $0 != l2 }
        c.partition([[l2, third[0]], [l1, others[0], third[1]]])
        for i in 61...120 { c.propose(on: l2, session: session, seq: UInt64(i), fua: 1, .put(key: Array("b".utf8), value: Array("\(i)".utf8))) }
        c.run(ticks: 3)
        // The other side (with the long stale tail on l1) elects and must repair logs.
        XCTAssertTrue(c.run(upTo: 400) { c in c.leaders.contains { [l1, others[0], third[1]].contains($0) } })
        let rejectsBefore = c.sentByKind["AppendEntriesReject", default: 0]
        c.heal()
        XCTAssertTrue(c.run(upTo: 600) { c in Set(c.liveIDs.map { c.node($0)!.log.lastIndex }).count == 1 && Set(c.appliedIndexes.values).count == 1 })
        let rejects = c.sentByKind["AppendEntriesReject", default: 0] - rejectsBefore
        print("backup over divergent logs: \(rejects) rejected AppendEntries to repair 4 followers")
        // A term per round trip: a handful of rejections per follower, not one per entry.
        XCTAssertLessThanOrEqual(rejects, 5 * 4, "took \(rejects) rejected AppendEntries to repair")
        c.checkLogs()
        c.assertNoViolation()
    }

    func testMessageBudgetForElectionPlusTenEntriesAndIdleHeartbeats() throws {
        let c = SimCluster(nodes: 3, seed: 2)
        _ = try c.awaitLeader()
        c.run(ticks: 2)
        let l = try XCTUnwrap(c.leader)
        let sentBefore = c.network.sent
        var tokens: [UInt64] = []
        for i in 1...10 {
            tokens.append(c.putOnLeader("m", "\(i)", seq: UInt64(i))!)
            XCTAssertTrue(c.run(upTo: 20) { $0.directReplies[tokens.last!] != nil })
        }
        let used = c.network.sent - sentBefore
        // Each entry: one append + ack per follower, plus commit propagation; heartbeats on top.
        XCTAssertLessThan(used, 10 * 8 + 2 * 2 * 60, "agreement on 10 entries used \(used) messages")
        // An idle stretch of 10 ticks (one second at 100 ms/tick): heartbeats and answers only.
        c.run(ticks: 5)
        let idleStart = c.network.sent
        c.run(ticks: 10)
        let idle = c.network.sent - idleStart
        print("message budget: \(used) messages for 10 entries, \(idle) messages in 10 idle ticks")
        XCTAssertLessThanOrEqual(idle, 2 * 2 * 10, "idle heartbeat traffic: \(idle) messages in 10 ticks")
        XCTAssertEqual(c.leader, l)
    }
}
