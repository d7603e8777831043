import Raft
import XCTest

/// §5.1 terms in replies as well as requests (issue #8 §3): a higher term in any message
/// demotes any role; an answer from an earlier term never counts.
final class TermRuleTests: XCTestCase {
    enum Start: CaseIterable { case follower, candidate, leader }

    /// A node of a 3-node cluster in the given role, in term >= 2, with an entry in its log.
    func node(_ start: Start) -> CoreHarness {
        var h = CoreHarness(id: 1, state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 2])))
        switch start {
        case .follower: break
        case .candidate: _ = h.campaign()
        case .leader: _ = h.becomeLeader()
        }
        return h
    }

    static func everyKind(term: Term) -> [MessageKind] {
        let meta = SnapshotMetadata(index: 1, term: 1, config: ClusterConfig(voters: [1, 2, 3]))
        return [
            .requestVote(lastLogIndex: 0, lastLogTerm: 0), .requestVoteResponse(granted: false),
            .requestVoteResponse(granted: true),
            .appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0),
            .appendEntriesResponse(success: true, index: 1, hintTerm: 0, hintIndex: 0),
            .appendEntriesResponse(success: false, index: 1, hintTerm: 0, hintIndex: 1),
            .heartbeat(commit: 0), .heartbeatResponse,
            .installSnapshot(metadata: meta, offset: 0, totalSize: 1, chunk: [0], done: false),
            .installSnapshotResponse(index: 1, nextOffset: 0, done: false),
        ]
    }

    func testEveryMessageKindWithAHigherTermDemotesEveryRole() {
        for start in Start.allCases {
            for kind in Self.everyKind(term: 0) {
                var h = node(start)
                XCTAssertEqual(h.node.role, start == .follower ? .follower : start == .candidate ? .candidate : .leader)
                let higher = h.node.term + 3
                _ = h.step(Message(from: 2, to: 1, term: higher, kind: kind))
                XCTAssertEqual(h.node.role, .follower, "\(start) got \(kind.name) of a higher term: it must step down")
                XCTAssertEqual(h.node.term, higher, "\(start) adopts the higher term of \(kind.name)")
                XCTAssertEqual(h.persisted.hardState.term, higher, "the new term is persisted")
                let fromLeader: Bool
                switch kind {
                case .appendEntries, .heartbeat, .installSnapshot: fromLeader = true
                default: fromLeader = false
                }
                XCTAssertEqual(h.node.leader, fromLeader ? 2 : noNode,
                               "\(kind.name): only a leader's message names a leader")
            }
        }
    }

    func testALeaderStepsDownOnAHigherTermInAnAppendEntriesResponse() {
        var h = node(.leader)
        let t = h.node.term
        _ = h.step(Message(from: 3, to: 1, term: t + 1, kind: .appendEntriesResponse(success: false, index: 0, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.role, .follower)
        XCTAssertEqual(h.node.term, t + 1)
        XCTAssertTrue(h.node.progress.isEmpty, "a follower keeps no replication state")
        XCTAssertThrowsError(try h.node.propose([1]), "a deposed leader refuses proposals")
    }

    func testAVoteGrantedInOneTermNeverCountsInTheNext() {
        // Five nodes: a candidate needs 3 votes, its own and two more.
        var h = CoreHarness(id: 1, voters: [1, 2, 3, 4, 5], state: PersistentState(hardState: HardState(term: 4)))
        _ = h.campaign()
        let first = h.node.term
        // No answers: it times out and campaigns again in the next term.
        for _ in 0..<100 where h.node.term == first { h.node.tick(); _ = h.flush() }
        XCTAssertEqual(h.node.term, first + 1)
        XCTAssertEqual(h.node.role, .candidate)
        // Grants for the earlier term arrive late.
        for voter: NodeID in [2, 3, 4] {
            _ = h.step(Message(from: voter, to: 1, term: first, kind: .requestVoteResponse(granted: true)))
        }
        XCTAssertEqual(h.node.role, .candidate, "grants from term \(first) must not elect it in term \(first + 1)")
        _ = h.step(Message(from: 2, to: 1, term: first + 1, kind: .requestVoteResponse(granted: true)))
        XCTAssertEqual(h.node.role, .candidate, "one current grant plus its own vote is not a majority of five")
        _ = h.step(Message(from: 3, to: 1, term: first + 1, kind: .requestVoteResponse(granted: true)))
        XCTAssertEqual(h.node.role, .leader, "two current grants plus its own vote are")
    }

    func testALowerTermAppendSuccessNeverMovesMatch() {
        var h = node(.leader)
        let t = h.node.term
        let last = h.node.log.lastIndex
        XCTAssertGreaterThan(last, 1)
        let before = h.node.progress.first { $0.id == 2 }!
        _ = h.step(Message(from: 2, to: 1, term: t - 1, kind: .appendEntriesResponse(success: true, index: last, hintTerm: 0, hintIndex: 0)))
        let after = h.node.progress.first { $0.id == 2 }!
        XCTAssertEqual(after.match, before.match, "an ack from term \(t - 1) says nothing about term \(t)'s entries")
        XCTAssertEqual(h.node.log.committed, 0, "nothing commits from it either")
        _ = h.step(Message(from: 2, to: 1, term: t, kind: .appendEntriesResponse(success: true, index: last, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.progress.first { $0.id == 2 }!.match, last, "the same ack in the current term counts")
        XCTAssertEqual(h.node.log.committed, last)
    }

    func testALowerTermVoteRefusalDoesNotLoseTheElection() {
        var h = node(.candidate)
        let t = h.node.term
        for voter: NodeID in [2, 3] {
            _ = h.step(Message(from: voter, to: 1, term: t - 1, kind: .requestVoteResponse(granted: false)))
        }
        XCTAssertEqual(h.node.role, .candidate, "refusals from an earlier term do not count either")
    }
}
