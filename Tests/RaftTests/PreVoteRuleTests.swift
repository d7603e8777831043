import Raft
import XCTest

/// PreVote (thesis §9.6): a would-be candidate first asks whether it could win, without
/// raising its term; voters record nothing and say yes only when no leader was heard from
/// within the election timeout and the asker's log is up to date.
final class PreVoteRuleTests: XCTestCase {
    private func harness(id: NodeID = 1, state: PersistentState = PersistentState(), seed: UInt64 = 1) -> CoreHarness {
        CoreHarness(id: id, state: state, seed: seed) { $0.preVote = true }
    }

    /// Ticks a follower until it sends its pre-votes; returns them.
    private func preCampaign(_ h: inout CoreHarness) -> [Message] {
        for _ in 0..<1000 {
            h.node.tick()
            let out = h.flush().filter { if case .preVote = $0.kind { return true }; return false }
            if !out.isEmpty { return out }
        }
        XCTFail("node never pre-campaigned")
        return []
    }

    private func preVoteAnswer(_ out: [Message]) -> (granted: Bool, term: Term)? {
        for m in out { if case let .preVoteResponse(g) = m.kind { return (g, m.term) } }
        return nil
    }

    func testPreVoteIsOffByDefaultUntilDiskLossRecoveryLearnsAMajoritysTerm() {
        XCTAssertFalse(RaftConfig(id: 1, voters: [1, 2, 3]).preVote)
    }

    func testPreVoteDoesNotRaiseTerm() {
        var h = harness()
        h.node.tick()
        var sent: [Message] = []
        var rd: Ready?
        for _ in 0..<1000 where sent.isEmpty {
            h.node.tick()
            rd = h.node.ready()
            sent = (rd?.eagerMessages ?? []).filter { if case .preVote = $0.kind { return true }; return false }
            if let rd { h.node.advance(rd) }
        }
        // Asks for term 1 while staying a follower of term 0 with no vote: nothing to persist.
        XCTAssertEqual(Set(sent.map(\.to)), [2, 3])
        XCTAssertTrue(sent.allSatisfy { $0.term == 1 })
        XCTAssertEqual(h.node.term, 0)
        XCTAssertEqual(h.node.vote, noNode)
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertNil(rd?.hardState, "a pre-vote changes no durable state")
        XCTAssertTrue(rd?.messages.isEmpty ?? false, "pre-votes promise nothing, so they leave eagerly")

        // The voter side records nothing either: no term, no vote, no timer reset.
        var v = harness(id: 2)
        let out = v.step(Message(from: 1, to: 2, term: 1, kind: .preVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(preVoteAnswer(out)?.granted, true)
        XCTAssertEqual(preVoteAnswer(out)?.term, 1, "a grant echoes the pre-vote's term")
        XCTAssertEqual(v.node.term, 0)
        XCTAssertEqual(v.node.vote, noNode)
        XCTAssertEqual(v.persisted.hardState.term, 0)
        XCTAssertEqual(v.persisted.hardState.vote, noNode)
    }

    func testVoterAdoptsTheSendersOwnTermButNotTheAskedOne() {
        // A pre-vote for term 5 comes from a member of term 4: §5.1 applies to that term.
        var v = harness(id: 2)
        let out = v.step(Message(from: 1, to: 2, term: 5, kind: .preVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(v.node.term, 4)
        XCTAssertEqual(v.node.vote, noNode)
        XCTAssertEqual(preVoteAnswer(out)?.granted, true)
        XCTAssertEqual(preVoteAnswer(out)?.term, 5)
    }

    func testPreVoteRefusedWhileLeaderIsHeard() {
        var h = harness()
        _ = h.step(Message(from: 2, to: 1, term: 1, kind: .heartbeat(commit: 0)))
        XCTAssertEqual(h.node.leader, 2)
        let refused = h.step(Message(from: 3, to: 1, term: 2, kind: .preVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(preVoteAnswer(refused)?.granted, false)
        XCTAssertEqual(preVoteAnswer(refused)?.term, 1, "a refusal carries the voter's own term")
        XCTAssertEqual(h.node.term, 1)
        XCTAssertEqual(h.node.leader, 2, "a pre-vote deposes nobody")
        // Once the leader has been silent for an election timeout, the same ask is granted.
        _ = h.tick(h.node.config.electionTicks)
        let granted = h.step(Message(from: 3, to: 1, term: 2, kind: .preVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(preVoteAnswer(granted)?.granted, true)
        XCTAssertEqual(h.node.term, 1)

        // A leader hears itself: it refuses every pre-vote.
        var l = harness()
        _ = l.becomeLeaderThroughPreVote()
        let t = l.node.term
        let out = l.step(Message(from: 2, to: 1, term: t + 1, kind: .preVote(lastLogIndex: 99, lastLogTerm: t)))
        XCTAssertEqual(preVoteAnswer(out)?.granted, false)
        XCTAssertEqual(l.node.role, .leader)
        XCTAssertEqual(l.node.term, t)
    }

    func testPreVoteRefusedForStaleLog() {
        var state = PersistentState()
        state.hardState = HardState(term: 2, vote: noNode, commit: 0)
        state.entries = entries([1, 1, 2])
        var h = harness(state: state)
        let stale = h.step(Message(from: 2, to: 1, term: 3, kind: .preVote(lastLogIndex: 5, lastLogTerm: 1)))
        XCTAssertEqual(preVoteAnswer(stale)?.granted, false, "a lower last term is less up to date (§5.4.1)")
        let shorter = h.step(Message(from: 2, to: 1, term: 3, kind: .preVote(lastLogIndex: 2, lastLogTerm: 2)))
        XCTAssertEqual(preVoteAnswer(shorter)?.granted, false, "the same last term with a shorter log is less up to date")
        let current = h.step(Message(from: 2, to: 1, term: 3, kind: .preVote(lastLogIndex: 3, lastLogTerm: 2)))
        XCTAssertEqual(preVoteAnswer(current)?.granted, true)
        XCTAssertEqual(h.node.term, 2)
        XCTAssertEqual(h.node.vote, noNode)
    }

    func testPreVoteMajorityStartsRealElection() {
        var h = harness()
        let asks = preCampaign(&h)
        XCTAssertEqual(asks.count, 2)
        XCTAssertEqual(h.node.term, 0)
        // One grant plus its own makes a majority of three: now it campaigns for real.
        h.node.step(Message(from: 2, to: 1, term: 1, kind: .preVoteResponse(granted: true)))
        let rd = h.node.ready()!
        XCTAssertEqual(h.node.role, .candidate)
        XCTAssertEqual(rd.hardState?.term, 1)
        XCTAssertEqual(rd.hardState?.vote, 1, "term and self-vote are persisted before asking")
        let requests = rd.messages.filter { if case .requestVote = $0.kind { return true }; return false }
        XCTAssertEqual(Set(requests.map(\.to)), [2, 3])
        XCTAssertFalse(rd.eagerMessages.contains { if case .requestVote = $0.kind { return true }; return false })
        h.node.advance(rd)
    }

    func testPreVoteMajorityOfRefusalsKeepsTheTerm() {
        var h = harness()
        _ = preCampaign(&h)
        _ = h.step(Message(from: 2, to: 1, term: 0, kind: .preVoteResponse(granted: false)))
        _ = h.step(Message(from: 3, to: 1, term: 0, kind: .preVoteResponse(granted: false)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, 0)
        // A late grant after the refusals decided the round does not start an election.
        _ = h.step(Message(from: 2, to: 1, term: 1, kind: .preVoteResponse(granted: true)))
        XCTAssertEqual(h.node.term, 0)
        // It asks again at its next timeout, still for term 1.
        XCTAssertTrue(preCampaign(&h).allSatisfy { $0.term == 1 })
    }

    func testGrantForAnotherTermDoesNotCount() {
        var h = harness()
        _ = preCampaign(&h)
        _ = h.step(Message(from: 2, to: 1, term: 7, kind: .preVoteResponse(granted: true)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, 0, "a grant is not a higher term to adopt")
    }

    func testPreCandidateThatHearsTheLeaderStops() {
        var h = harness()
        _ = preCampaign(&h)
        _ = h.step(Message(from: 3, to: 1, term: 0, kind: .heartbeat(commit: 0)))
        _ = h.step(Message(from: 2, to: 1, term: 1, kind: .preVoteResponse(granted: true)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, 0)
        XCTAssertEqual(h.node.leader, 3)
    }

    func testRefusedPreVoteResponseWaitsForPersistence() {
        XCTAssertTrue(MessageKind.preVote(lastLogIndex: 0, lastLogTerm: 0).mayPrecedePersistence)
        XCTAssertTrue(MessageKind.preVoteResponse(granted: true).mayPrecedePersistence)
        XCTAssertFalse(MessageKind.preVoteResponse(granted: false).mayPrecedePersistence,
                       "a refusal carries the voter's term, which must be durable")
    }

    func testSingleNodeSkipsPreVote() {
        var h = CoreHarness(id: 1, voters: [1]) { $0.preVote = true }
        _ = h.tick(30)
        XCTAssertEqual(h.node.role, .leader)
    }
}

extension CoreHarness {
    /// Makes this node leader through PreVote then RequestVote, every peer granting both.
    mutating func becomeLeaderThroughPreVote() -> [Message] {
        var out: [Message] = []
        for _ in 0..<1000 where node.role == .follower {
            node.tick()
            for m in flush() {
                guard case .preVote = m.kind else { continue }
                out += step(Message(from: m.to, to: node.id, term: m.term, kind: .preVoteResponse(granted: true)))
            }
        }
        for peer in node.cluster.voters where peer != node.id && node.role == .candidate {
            out += step(Message(from: peer, to: node.id, term: node.term, kind: .requestVoteResponse(granted: true)))
        }
        XCTAssertEqual(node.role, .leader)
        return out
    }
}
