import Raft
import XCTest

/// Paper rules for AppendEntries and commitment (§5.3, §5.4.2, Figure 8).
final class ReplicationRuleTests: XCTestCase {
    func testFollowerRejectsMismatchedPrevLogWithConflictHint() {
        // Follower log terms: 1 1 2 2 2; leader probes at index 5 with term 3.
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 3), entries: entries([1, 1, 2, 2, 2])))
        let out = h.step(appendMsg(term: 3, prev: 5, prevTerm: 3, []))
        let r = out.first?.appendResponse
        XCTAssertEqual(r?.success, false)
        XCTAssertEqual(r?.index, 5)
        XCTAssertEqual(r?.hintTerm, 2, "the follower's term at the rejected index")
        XCTAssertEqual(r?.hintIndex, 3, "the first index of that term, so the leader skips the whole term")
    }

    func testFollowerWithShortLogHintsItsEnd() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 1])))
        let r = h.step(appendMsg(term: 2, prev: 10, prevTerm: 2, [])).first?.appendResponse
        XCTAssertEqual(r?.success, false)
        XCTAssertEqual(r?.hintTerm, 0)
        XCTAssertEqual(r?.hintIndex, 3)
    }

    func testFollowerTruncatesOnlyConflictingSuffix() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 1, 1, 1])))
        let new = [Entry(term: 2, index: 3, data: [9]), Entry(term: 2, index: 4, data: [9])]
        let r = h.step(appendMsg(term: 2, prev: 2, prevTerm: 1, new)).first?.appendResponse
        XCTAssertEqual(r?.success, true)
        XCTAssertEqual(r?.index, 4)
        XCTAssertEqual(h.node.log.entries.map(\.term), [1, 1, 2, 2])
        XCTAssertEqual(h.persisted.entries.map(\.term), [1, 1, 2, 2], "the overwrite reached storage")
    }

    func testStaleAppendNeverTruncatesMatchingEntries() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 2, 2, 2])))
        // A delayed copy of an older AppendEntries carrying only entries 2..3.
        let old = Array(entries([1, 2, 2, 2])[1...2])
        let r = h.step(appendMsg(term: 2, prev: 1, prevTerm: 1, old)).first?.appendResponse
        XCTAssertEqual(r?.success, true)
        XCTAssertEqual(r?.index, 3, "acknowledges only what the message covered")
        XCTAssertEqual(h.node.log.lastIndex, 4, "entry 4 must survive a stale duplicate")
    }

    func testFollowerCommitIsMinOfLeaderCommitAndLastNewEntry() {
        var h = CoreHarness()
        _ = h.step(appendMsg(term: 1, prev: 0, prevTerm: 0, entries([1, 1]), commit: 10))
        XCTAssertEqual(h.node.log.committed, 2)
        // A heartbeat-style append with a smaller prefix does not commit unverified entries.
        var g = CoreHarness(state: PersistentState(hardState: HardState(term: 1), entries: entries([1, 1, 1, 1])))
        _ = g.step(appendMsg(term: 1, prev: 1, prevTerm: 1, [], commit: 4))
        XCTAssertEqual(g.node.log.committed, 1, "only entries verified by this message may commit")
    }

    func testAcknowledgementWaitsForPersistence() {
        var h = CoreHarness()
        h.node.step(appendMsg(term: 1, prev: 0, prevTerm: 0, entries([1])))
        let rd = h.node.ready()!
        XCTAssertEqual(rd.entries.count, 1)
        XCTAssertTrue(rd.eagerMessages.isEmpty, "a follower's ack must not go out before its entries are durable")
        XCTAssertEqual(rd.messages.first?.appendResponse?.success, true)
    }

    func testLeaderBacksUpAWholeTermPerRejection() {
        // Leader log: 1 1 1 4 4 5 5 6 6 6 (term 8). Follower has 1 1 1 4 4 4 4 (conflict at 6).
        let lead = entries([1, 1, 1, 4, 4, 5, 5, 6, 6, 6])
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 7, vote: 1), entries: lead))
        let probes = h.becomeLeader()
        XCTAssertEqual(h.node.term, 8)
        guard case let .appendEntries(probe, _, _, _) = probes.first(where: { $0.to == 2 })?.kind else { return XCTFail("no probe") }
        XCTAssertEqual(probe, 10, "the first probe is at the leader's last index before its no-op")
        let out1 = h.step(Message(from: 2, to: 1, term: 8, kind: .appendEntriesResponse(success: false, index: probe, hintTerm: 0, hintIndex: 8)))
        // Follower was short (last index 7): the leader jumps straight to 8.
        guard case let .appendEntries(prev, _, _, _) = out1.first(where: { $0.to == 2 })?.kind else { return XCTFail("no retry") }
        XCTAssertEqual(prev, 7)
        // Now the follower says: index 7 has term 4, which starts at index 4.
        let out2 = h.step(Message(from: 2, to: 1, term: 8, kind: .appendEntriesResponse(success: false, index: 7, hintTerm: 4, hintIndex: 4)))
        guard case let .appendEntries(prev2, prevTerm2, es, _) = out2.first(where: { $0.to == 2 })?.kind else { return XCTFail("no retry") }
        XCTAssertEqual(prev2, 5, "the leader's last entry of term 4 is index 5: resume right after it")
        XCTAssertEqual(prevTerm2, 4)
        XCTAssertEqual(es.first?.index, 6)
    }

    func testLeaderIgnoresStaleRejection() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        let before = h.node.progress.first { $0.id == 2 }!
        let out = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: false, index: 0, hintTerm: 0, hintIndex: 1)))
        XCTAssertTrue(out.isEmpty)
        XCTAssertEqual(h.node.progress.first { $0.id == 2 }!.match, before.match)
    }

    func testRejectionBeyondTheLeadersLogCannotDerailReplication() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        // A bogus rejection of an index far past our log (we have 1 entry).
        let out = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: false, index: 100, hintTerm: 0, hintIndex: 50)))
        let pr = h.node.progress.first { $0.id == 2 }!
        XCTAssertLessThanOrEqual(pr.next, h.node.log.lastIndex + 1, "next never passes the end of our log")
        guard case let .appendEntries(prev, _, _, _)? = out.first(where: { $0.to == 2 })?.kind else { return XCTFail("no retry") }
        XCTAssertLessThanOrEqual(prev, h.node.log.lastIndex)
    }

    func testLeaderCommitsOnlyCurrentTermByCounting() {
        // Figure 8: the leader of term 4 holds an entry from term 2 at index 2.
        let st = PersistentState(hardState: HardState(term: 3, vote: 1), entries: entries([1, 2]))
        var h = CoreHarness(voters: [1, 2, 3, 4, 5], state: st)
        _ = h.campaign()
        for p: NodeID in [2, 3] { _ = h.step(Message(from: p, to: 1, term: h.node.term, kind: .requestVoteResponse(granted: true))) }
        XCTAssertEqual(h.node.role, .leader)
        let t = h.node.term
        // A majority (1, 2, 3) stores index 2 — from term 2 — but not yet the new no-op.
        for p: NodeID in [2, 3] { _ = h.step(Message(from: p, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: 2, hintTerm: 0, hintIndex: 0))) }
        XCTAssertEqual(h.node.log.committed, 0, "an old-term entry is never committed by counting replicas")
        // Once the current-term no-op (index 3) is on a majority, everything up to it commits.
        for p: NodeID in [2, 3] { _ = h.step(Message(from: p, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: 3, hintTerm: 0, hintIndex: 0))) }
        XCTAssertEqual(h.node.log.committed, 3)
    }

    func testLeaderCountsItselfOnlyAfterPersisting() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        let idx = try! h.node.propose([42])
        // Follower 2 acknowledges before the leader's own write completed.
        h.node.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: idx, hintTerm: 0, hintIndex: 0)))
        h.node.step(Message(from: 3, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        // Two of three have it (2 and, so far unpersisted, the leader): commit waits.
        let rd = h.node.ready()!
        XCTAssertLessThan(h.node.log.committed, idx, "one durable copy plus an unpersisted one is not a majority")
        h.node.advance(rd)
        _ = h.flush()
        XCTAssertEqual(h.node.log.committed, idx)
    }

    func testLeaderAppendsAreEagerButVotesAreNot() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        _ = try! h.node.propose([7])
        let rd = h.node.ready()!
        XCTAssertFalse(rd.eagerMessages.isEmpty, "a leader's appends may go out beside its own disk write (§10.2.1)")
        XCTAssertTrue(rd.eagerMessages.allSatisfy { if case .appendEntries = $0.kind { return true } else { return false } })
    }

    func testAppendEntriesRespectsBatchLimits() {
        var h = CoreHarness { $0.maxEntriesPerAppend = 4 }
        _ = h.becomeLeader()
        for i in 0..<10 { _ = try! h.node.propose([UInt8(i)]) }
        // Follower 2 acknowledges the no-op so it enters pipelined replication.
        let out = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        let sizes = out.compactMap { m -> Int? in
            if m.to == 2, case let .appendEntries(_, _, es, _) = m.kind { return es.count } else { return nil }
        }
        XCTAssertFalse(sizes.isEmpty)
        XCTAssertTrue(sizes.allSatisfy { $0 <= 4 }, "no AppendEntries over the entry limit: \(sizes)")
        XCTAssertEqual(sizes.reduce(0, +), 10)
    }

    func testInflightAppendsAreBounded() {
        var h = CoreHarness { $0.maxEntriesPerAppend = 1; $0.maxInflightAppends = 3 }
        _ = h.becomeLeader()
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0)))
        for i in 0..<10 { _ = try! h.node.propose([UInt8(i)]) }
        let out = h.flush()
        let toTwo = out.filter { if $0.to == 2, case .appendEntries = $0.kind { return true } else { return false } }
        XCTAssertEqual(toTwo.count, 3, "at most maxInflightAppends unacknowledged appends")
    }

    func testProposalLimitsAreEnforced() {
        var h = CoreHarness { $0.maxEntryBytes = 10; $0.maxUncommittedEntries = 3 }
        _ = h.becomeLeader()
        XCTAssertThrowsError(try h.node.propose(Array(repeating: 0, count: 11))) { e in
            XCTAssertEqual(e as? ProposeError, .tooLarge(size: 11, limit: 10))
        }
        _ = try? h.node.propose([1])
        _ = try? h.node.propose([2])
        XCTAssertThrowsError(try h.node.propose([3])) { e in
            guard case .busy = e as? ProposeError else { return XCTFail("expected busy, got \(e)") }
        }
    }

    func testRestartRecoversLogAndTermFromPersistedStateAlone() {
        var h = CoreHarness()
        _ = h.step(appendMsg(from: 3, term: 4, prev: 0, prevTerm: 0, entries([1, 2, 4]), commit: 2))
        let r = RaftNode(config: RaftConfig(id: 1, voters: [1, 2, 3]), state: h.persisted, seed: 3)
        XCTAssertEqual(r.term, 4)
        XCTAssertEqual(r.log.lastIndex, 3)
        XCTAssertEqual(r.log.entries.map(\.term), [1, 2, 4])
        XCTAssertEqual(r.log.committed, 2)
    }

    func testCommittedEntriesAreHandedOutOnceInOrder() {
        var h = CoreHarness()
        h.node.step(appendMsg(term: 1, prev: 0, prevTerm: 0, entries([1, 1, 1]), commit: 3))
        let rd = h.node.ready()!
        XCTAssertEqual(rd.committedEntries.map(\.index), [1, 2, 3])
        h.node.advance(rd)
        XCTAssertEqual(h.node.log.applied, 3)
        XCTAssertNil(h.node.ready(), "nothing is handed out twice")
    }
}
