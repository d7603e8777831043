import Raft
import XCTest

/// Architecture rule 4 at the core's edge, seen from a voter and a follower (issue #8 §2):
/// a reply that promises durable state is never among a Ready's eager messages, and it
/// is handed out in the same Ready as the state it promises.
final class PromiseAfterPersistRuleTests: XCTestCase {
    func testVoteGrantLeavesOnlyAfterTheVoteIsPersisted() {
        var h = CoreHarness(id: 1)
        h.node.step(Message(from: 2, to: 1, term: 3, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        let rd = h.node.ready()!
        XCTAssertFalse(rd.eagerMessages.contains { $0.kind == .requestVoteResponse(granted: true) },
                       "a vote grant must not precede the persistence of votedFor")
        XCTAssertEqual(rd.messages.filter { $0.kind == .requestVoteResponse(granted: true) }.count, 1)
        XCTAssertEqual(rd.hardState?.vote, 2, "the vote it promises is in the same Ready, to persist first")
        XCTAssertEqual(rd.hardState?.term, 3)
    }

    func testAppendAckLeavesOnlyAfterTheEntriesArePersisted() {
        var h = CoreHarness(id: 1)
        h.node.step(appendMsg(term: 2, prev: 0, prevTerm: 0, entries([1, 2])))
        let rd = h.node.ready()!
        XCTAssertFalse(rd.eagerMessages.contains { $0.appendResponse?.success == true },
                       "an append acknowledgement must not precede the persistence of its entries")
        let ack = rd.messages.compactMap(\.appendResponse).first
        XCTAssertEqual(ack?.success, true)
        XCTAssertEqual(ack?.index, 2)
        XCTAssertEqual(rd.entries.map(\.index), [1, 2], "the entries it acknowledges are in the same Ready")
    }

    func testSnapshotAckLeavesOnlyAfterTheSnapshotIsPersisted() {
        var h = CoreHarness(id: 1)
        let meta = SnapshotMetadata(index: 5, term: 2, config: ClusterConfig(voters: [1, 2, 3]))
        h.node.step(Message(from: 2, to: 1, term: 2, kind: .installSnapshot(metadata: meta, offset: 0, totalSize: 3, chunk: [7, 8, 9], done: true)))
        let rd = h.node.ready()!
        XCTAssertFalse(rd.eagerMessages.contains { if case .installSnapshotResponse = $0.kind { return true } else { return false } })
        XCTAssertTrue(rd.messages.contains { $0.kind == .installSnapshotResponse(index: 5, nextOffset: 3, done: true) })
        XCTAssertEqual(rd.snapshot?.metadata, meta, "the snapshot it acknowledges is in the same Ready")
    }

    func testCandidacyWaitsForPersistence() {
        // RequestVote promises the candidate's term and self-vote.
        var c = CoreHarness(id: 1)
        for _ in 0..<100 where c.node.role == .follower { c.node.tick() }
        let rd = c.node.ready()!
        XCTAssertTrue(rd.eagerMessages.isEmpty)
        XCTAssertFalse(rd.messages.isEmpty)
        XCTAssertEqual(rd.hardState?.vote, 1)
    }

    func testOnlyALeadersRequestsMayPrecedePersistence() {
        let meta = SnapshotMetadata(index: 1, term: 1, config: ClusterConfig(voters: [1, 2, 3]))
        let kinds: [MessageKind] = [
            .requestVote(lastLogIndex: 0, lastLogTerm: 0), .requestVoteResponse(granted: true),
            .requestVoteResponse(granted: false), .appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0),
            .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0),
            .appendEntriesResponse(success: false, index: 1, hintTerm: 0, hintIndex: 1),
            .heartbeat(commit: 0), .heartbeatResponse,
            .installSnapshot(metadata: meta, offset: 0, totalSize: 1, chunk: [0], done: true),
            .installSnapshotResponse(index: 1, nextOffset: 1, done: true),
        ]
        let early = kinds.filter(\.mayPrecedePersistence).map(\.name)
        XCTAssertEqual(early, ["AppendEntries", "Heartbeat", "InstallSnapshot"])
    }

    func testALeadersAppendsGoOutEagerly() {
        var h = CoreHarness(id: 1)
        _ = h.becomeLeader()
        for peer: NodeID in [2, 3] { // both followers hold the no-op: they replicate now
            _ = h.step(Message(from: peer, to: 1, term: h.node.term,
                               kind: .appendEntriesResponse(success: true, index: h.node.log.lastIndex, hintTerm: 0, hintIndex: 0)))
        }
        _ = try? h.node.propose([1, 2, 3])
        let rd = h.node.ready()!
        XCTAssertEqual(rd.eagerMessages.filter { if case .appendEntries = $0.kind { return true } else { return false } }.count, 2,
                       "the leader's appends go out while its own write runs (thesis §10.2.1)")
        XCTAssertFalse(rd.entries.isEmpty)
    }
}
