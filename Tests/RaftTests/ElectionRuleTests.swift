import Raft
import XCTest

/// Paper rules for terms and elections (§5.1, §5.2, §5.4.1).
final class ElectionRuleTests: XCTestCase {
    func testFollowerRejectsStaleTerm() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 5)))
        let out = h.step(appendMsg(term: 3, prev: 0, prevTerm: 0, entries([3])))
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(out[0].term, 5, "the reply carries the newer term so the stale leader steps down")
        XCTAssertEqual(out[0].appendResponse?.success, false)
        XCTAssertEqual(h.node.log.lastIndex, 0, "stale entries are not appended")
        XCTAssertEqual(h.node.term, 5)
    }

    func testHigherTermMakesLeaderStepDown() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        let t = h.node.term
        _ = h.step(Message(from: 3, to: 1, term: t + 2, kind: .heartbeat(commit: 0)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, t + 2)
        XCTAssertEqual(h.node.leader, 3)
    }

    func testElectionTimeoutIsRandomizedWithinBounds() {
        var timeouts = Set<Int>()
        for seed in UInt64(1)...40 {
            var h = CoreHarness(seed: seed)
            var ticks = 0
            while h.node.role == .follower { h.node.tick(); ticks += 1 }
            XCTAssertGreaterThanOrEqual(ticks, 10, "never before E ticks")
            XCTAssertLessThan(ticks, 20, "always before 2E ticks")
            timeouts.insert(ticks)
        }
        XCTAssertGreaterThan(timeouts.count, 3, "timeouts must actually vary across seeds")
    }

    func testCandidateIncrementsTermVotesForItselfAndPersistsBeforeAsking() {
        var h = CoreHarness()
        h.node.tick()
        for _ in 0..<30 where h.node.role == .follower { h.node.tick() }
        let rd = h.node.ready()!
        XCTAssertEqual(rd.hardState?.term, 1)
        XCTAssertEqual(rd.hardState?.vote, 1)
        XCTAssertTrue(rd.eagerMessages.isEmpty, "RequestVote must wait for the vote to be durable")
        XCTAssertEqual(rd.messages.filter { if case .requestVote = $0.kind { return true } else { return false } }.count, 2)
    }

    func testVoteGrantedOncePerTerm() {
        var h = CoreHarness()
        let a = h.step(Message(from: 2, to: 1, term: 1, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(a.first?.isVoteGranted, true)
        XCTAssertEqual(h.persisted.hardState.vote, 2, "the vote is persisted with the grant")
        let b = h.step(Message(from: 3, to: 1, term: 1, kind: .requestVote(lastLogIndex: 5, lastLogTerm: 1)))
        XCTAssertEqual(b.first?.isVoteGranted, false, "a second candidate in the same term is refused")
        let again = h.step(Message(from: 2, to: 1, term: 1, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(again.first?.isVoteGranted, true, "a retried request from the same candidate is granted again")
    }

    func testVoteSurvivesRestart() {
        var h = CoreHarness()
        _ = h.step(Message(from: 2, to: 1, term: 1, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        var restarted = CoreHarness(state: h.persisted, seed: 9)
        let b = restarted.step(Message(from: 3, to: 1, term: 1, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertEqual(b.first?.isVoteGranted, false, "a restarted node remembers whom it voted for")
    }

    func testVoteRefusedToCandidateWithStaleLog() {
        let log = PersistentState(hardState: HardState(term: 3), entries: entries([1, 2, 3]))
        var h = CoreHarness(state: log)
        // Older last term.
        let a = h.step(Message(from: 2, to: 1, term: 4, kind: .requestVote(lastLogIndex: 10, lastLogTerm: 2)))
        XCTAssertEqual(a.first?.isVoteGranted, false)
        // Same last term, shorter log.
        let b = h.step(Message(from: 3, to: 1, term: 5, kind: .requestVote(lastLogIndex: 2, lastLogTerm: 3)))
        XCTAssertEqual(b.first?.isVoteGranted, false)
        // Same last term, equal length: up to date.
        let c = h.step(Message(from: 3, to: 1, term: 6, kind: .requestVote(lastLogIndex: 3, lastLogTerm: 3)))
        XCTAssertEqual(c.first?.isVoteGranted, true)
    }

    func testCandidateWinsWithMajorityAndAppendsNoop() {
        var h = CoreHarness()
        _ = h.campaign()
        XCTAssertEqual(h.node.role, .candidate)
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .requestVoteResponse(granted: true)))
        XCTAssertEqual(h.node.role, .leader)
        XCTAssertEqual(h.node.log.lastIndex, 1)
        XCTAssertEqual(h.node.log.entry(at: 1)?.kind, .noop)
        XCTAssertEqual(h.node.log.entry(at: 1)?.term, h.node.term)
    }

    func testCandidateStepsDownOnLeaderOfSameTerm() {
        var h = CoreHarness()
        _ = h.campaign()
        let t = h.node.term
        _ = h.step(Message(from: 3, to: 1, term: t, kind: .heartbeat(commit: 0)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.leader, 3)
        XCTAssertEqual(h.node.term, t)
    }

    func testCandidateLosingMajorityBecomesFollower() {
        var h = CoreHarness()
        _ = h.campaign()
        _ = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .requestVoteResponse(granted: false)))
        XCTAssertEqual(h.node.role, .candidate, "one refusal of three is not a lost election")
        _ = h.step(Message(from: 3, to: 1, term: h.node.term, kind: .requestVoteResponse(granted: false)))
        XCTAssertEqual(h.node.role, .follower)
    }

    func testLeaderWithoutQuorumContactStepsDown() {
        var h = CoreHarness()
        _ = h.becomeLeader()
        _ = h.tick(9)
        XCTAssertEqual(h.node.role, .leader, "still within one election timeout")
        _ = h.tick(1)
        XCTAssertEqual(h.node.role, .follower, "checkQuorum: no answers for an election timeout")
    }

    func testProposalAtFollowerFailsWithLeaderHint() {
        var h = CoreHarness()
        _ = h.step(Message(from: 3, to: 1, term: 1, kind: .heartbeat(commit: 0)))
        XCTAssertThrowsError(try h.node.propose([1])) { e in
            XCTAssertEqual(e as? ProposeError, .notLeader(leader: 3))
        }
    }

    func testMessageFromNonMemberIsDropped() {
        var h = CoreHarness()
        let out = h.step(Message(from: 9, to: 1, term: 50, kind: .requestVote(lastLogIndex: 0, lastLogTerm: 0)))
        XCTAssertTrue(out.isEmpty)
        XCTAssertEqual(h.node.term, 0, "a stranger cannot move our term")
        XCTAssertEqual(h.node.droppedMessages, 1)
    }
}
