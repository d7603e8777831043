import Raft
import XCTest

/// Issue #9 §4: a member that lost its storage must not vote or campaign until it caught
/// up (protocol-aware recovery), and a leader must notice a follower that lost entries it
/// had acknowledged, repair it, and not count it toward commit until it holds them again.
final class DiskLossRuleTests: XCTestCase {
    private func recovering(id: NodeID = 1, state: PersistentState = PersistentState()) -> CoreHarness {
        CoreHarness(id: id, state: state) { $0.recovering = true }
    }

    func testARecoveringNodeNeverGrantsAVote() {
        var h = recovering()
        let out = h.step(Message(from: 2, to: 1, term: 5, kind: .requestVote(lastLogIndex: 9, lastLogTerm: 4)))
        XCTAssertEqual(out.first?.isVoteGranted, false, "an up-to-date candidate still gets no vote")
        XCTAssertEqual(h.node.term, 5, "it does learn the term")
        XCTAssertEqual(h.node.vote, noNode)
        XCTAssertEqual(h.node.votesRefusedWhileRecovering, 1)
        // The same request to a node that is not recovering is granted: the refusal is the rule's.
        var plain = CoreHarness()
        XCTAssertEqual(plain.step(Message(from: 2, to: 1, term: 5, kind: .requestVote(lastLogIndex: 9, lastLogTerm: 4))).first?.isVoteGranted, true)
    }

    func testARecoveringNodeNeverCampaigns() {
        var h = recovering()
        let out = h.tick(200)
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, 0)
        XCTAssertFalse(out.contains { if case .requestVote = $0.kind { return true } else { return false } })
    }

    func testRecoveryEndsOnlyOnceDurablyCaughtUpToALeaderCommitOfItsTerm() {
        var h = recovering()
        // Leader of term 2 sends entries 1..3 (terms 1 1 2), but its commit (2) is of term 1.
        _ = h.step(appendMsg(term: 2, prev: 0, prevTerm: 0, entries([1, 1, 2]), commit: 2))
        XCTAssertTrue(h.node.recovering, "a commit of an earlier term may not cover what this term committed")
        // The leader's commit of its own term, but beyond what this message let us match.
        _ = h.step(appendMsg(term: 2, prev: 3, prevTerm: 2, entries([2], from: 4), commit: 5))
        XCTAssertTrue(h.node.recovering, "a commit cut short by the batch is not enough")
        // Caught up through the leader's whole commit (5, of term 2): recovery ends, but only
        // after the entries are durable.
        h.node.step(appendMsg(term: 2, prev: 4, prevTerm: 2, entries([2], from: 5), commit: 5))
        let rd = h.node.ready()!
        XCTAssertFalse(rd.entries.isEmpty)
        XCTAssertTrue(h.node.recovering, "not before the entries are persisted")
        h.node.advance(rd)
        XCTAssertFalse(h.node.recovering)
        let events = h.node.ready()?.events ?? []
        XCTAssertEqual(events, [.recoveryFinished(commit: 5, term: 2)])
        // Now it votes like any member.
        let out = h.step(Message(from: 3, to: 1, term: 3, kind: .requestVote(lastLogIndex: 5, lastLogTerm: 2)))
        XCTAssertEqual(out.first?.isVoteGranted, true)
    }

    func testAHeartbeatCommitOfTheLeadersTermWithinOurLogEndsRecovery() {
        var h = recovering()
        _ = h.step(appendMsg(term: 2, prev: 0, prevTerm: 0, entries([1, 2]), commit: 1))
        XCTAssertTrue(h.node.recovering)
        _ = h.step(Message(from: 2, to: 1, term: 2, kind: .heartbeat(commit: 2)))
        XCTAssertFalse(h.node.recovering)
    }

    func testEnterRecoveryStepsDownAndStopsVoting() {
        var h = CoreHarness()
        _ = h.campaign()
        XCTAssertEqual(h.node.role, .candidate)
        h.node.enterRecovery()
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertTrue(h.node.recovering)
        XCTAssertEqual(h.node.ready()?.events.first, .recoveryStarted)
        let out = h.step(Message(from: 2, to: 1, term: h.node.term + 1, kind: .requestVote(lastLogIndex: 9, lastLogTerm: 9)))
        XCTAssertEqual(out.first?.isVoteGranted, false)
    }

    func testASingleMemberClusterCannotStartRecovering() {
        var c = RaftConfig(id: 1, voters: [1])
        c.recovering = true
        XCTAssertNotNil(c.validate())
    }

    /// Leader 1 of {1,2,3}; follower 2 acknowledged through `acked`; 3 never answers.
    private func leaderWithFollower2Acked() -> (CoreHarness, LogIndex) {
        var h = CoreHarness()
        _ = h.becomeLeader()
        for i in 0..<4 { _ = try! h.node.propose([UInt8(i)]) }
        _ = h.flush()
        let acked = h.node.log.lastIndex
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: acked, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.log.committed, acked)
        return (h, acked)
    }

    func testTheLeaderDetectsAFollowerThatLostAcknowledgedEntriesAndReReplicatesIt() {
        var (h, acked) = leaderWithFollower2Acked()
        let t = h.node.term
        _ = try! h.node.propose([9])
        _ = h.flush()
        // Follower 2 comes back empty: it rejects the next append (prevIndex = acked) as short.
        let probe = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: false, index: acked, hintTerm: 0, hintIndex: 1)))
        // The leader first checks: an append at the acknowledged index itself.
        guard case let .appendEntries(prev, _, _, _)? = probe.first(where: { $0.to == 2 })?.kind else { return XCTFail("no probe at match") }
        XCTAssertEqual(prev, acked)
        XCTAssertEqual(h.node.followersFoundWithLostEntries, 0, "one rejection could be a stale message")
        // The follower rejects the very entry it had acknowledged: it lost it.
        node2Rejects(&h, at: acked)
        XCTAssertEqual(h.node.followersFoundWithLostEntries, 1)
        let pr = h.node.progress.first { $0.id == 2 }!
        XCTAssertEqual(pr.match, 0, "the old match is forgotten")
        XCTAssertEqual(pr.lostThrough, acked)
        XCTAssertEqual(h.node.log.committed, acked, "the leader's commit index never goes back")
    }

    private func node2Rejects(_ h: inout CoreHarness, at index: LogIndex) {
        h.node.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: false, index: index, hintTerm: 0, hintIndex: 1)))
        var events: [RaftEvent] = []
        var resent: [Message] = []
        while let rd = h.node.ready() {
            events += rd.events
            resent += rd.eagerMessages
            h.node.advance(rd)
        }
        XCTAssertEqual(events, [.followerLostEntries(peer: 2, index: index, acknowledged: index)], "reported for the operator's log")
        guard case let .appendEntries(prev, _, es, _)? = resent.first(where: { $0.to == 2 })?.kind else { return XCTFail("not re-replicated") }
        XCTAssertEqual(prev, 0, "re-replication starts where the follower's log ends")
        XCTAssertEqual(es.first?.index, 1)
    }

    func testALostFollowerCountsTowardCommitOnlyOnceItHoldsWhatItAcknowledged() {
        var (h, acked) = leaderWithFollower2Acked()
        let t = h.node.term
        let newIndex = try! h.node.propose([9])
        _ = h.flush()
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: false, index: acked, hintTerm: 0, hintIndex: 1)))
        node2Rejects(&h, at: acked)
        // While it is repaired, heartbeats tell it to commit nothing.
        let beats = h.tick(1).filter { $0.to == 2 }
        for b in beats { if case let .heartbeat(commit) = b.kind { XCTAssertEqual(commit, 0) } }
        // It now acknowledges a prefix, then the new entry — but not yet everything it had
        // acknowledged before? It must hold `acked` first: acknowledging newIndex implies that.
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: acked - 1, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.log.committed, acked, "never back, and not forward on a partial repair")
        XCTAssertEqual(h.node.progress.first { $0.id == 2 }!.lostThrough, acked, "still excluded")
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: newIndex, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.progress.first { $0.id == 2 }!.lostThrough, 0)
        XCTAssertEqual(h.node.log.committed, newIndex, "counts again once it holds the entries")
    }

    func testAStaleRejectionBelowMatchCostsOneProbeAndNothingElse() {
        var (h, acked) = leaderWithFollower2Acked()
        let t = h.node.term
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: false, index: acked - 1, hintTerm: 0, hintIndex: 2)))
        // The follower holds `acked`: it accepts the probe.
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: acked, hintTerm: 0, hintIndex: 0)))
        let pr = h.node.progress.first { $0.id == 2 }!
        XCTAssertEqual(pr.match, acked)
        XCTAssertEqual(pr.lostThrough, 0)
        XCTAssertEqual(h.node.followersFoundWithLostEntries, 0)
    }
}
