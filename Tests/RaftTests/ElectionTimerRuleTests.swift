import Raft
import XCTest

/// When the election timer restarts (Figure 2, §5.2): only on granting a vote, on hearing
/// from the current leader, and on starting an election. Issue #16 part 1.
final class ElectionTimerRuleTests: XCTestCase {
    /// A follower with a log of three term-1 entries, in term 1.
    static let upToDate = PersistentState(hardState: HardState(term: 1), entries: entries([1, 1, 1]))

    /// Ticks until the node starts an election (campaigning raises its term).
    static func ticksToCampaign(_ h: inout CoreHarness, limit: Int = 200) -> Int? {
        let start = h.node.term
        for t in 1...limit {
            h.node.tick()
            _ = h.flush()
            if h.node.term > start && h.node.role != .follower { return t }
        }
        return nil
    }

    /// The tick at which an undisturbed node with this seed campaigns.
    static func undisturbedTimeout(seed: UInt64) -> Int {
        var h = CoreHarness(state: upToDate, seed: seed)
        return ticksToCampaign(&h)!
    }

    func testRefusedVoteDoesNotRestartTheTimer() {
        for seed in UInt64(1)...10 {
            let timeout = Self.undisturbedTimeout(seed: seed)
            var h = CoreHarness(state: Self.upToDate, seed: seed)
            _ = h.tick(timeout - 1)
            XCTAssertEqual(h.node.role, .follower)
            // A candidate with a higher term but a stale log asks just before our timeout.
            let out = h.step(Message(from: 2, to: 1, term: 5, kind: .requestVote(lastLogIndex: 1, lastLogTerm: 1)))
            XCTAssertEqual(out.first?.isVoteGranted, false, "seed \(seed)")
            XCTAssertEqual(h.node.term, 5, "the higher term is adopted")
            XCTAssertEqual(Self.ticksToCampaign(&h), 1, "seed \(seed): a refused vote must not restart the election timer")
        }
    }

    func testGrantedVoteRestartsTheTimer() {
        for seed in UInt64(1)...10 {
            let timeout = Self.undisturbedTimeout(seed: seed)
            var h = CoreHarness(state: Self.upToDate, seed: seed)
            _ = h.tick(timeout - 1)
            let out = h.step(Message(from: 2, to: 1, term: 5, kind: .requestVote(lastLogIndex: 3, lastLogTerm: 1)))
            XCTAssertEqual(out.first?.isVoteGranted, true, "seed \(seed)")
            let next = Self.ticksToCampaign(&h)
            XCTAssertNotNil(next)
            XCTAssertGreaterThanOrEqual(next ?? 0, h.node.config.electionTicks, "seed \(seed): granting a vote restarts the timer")
        }
    }

    func testHigherTermInAReplyDoesNotRestartTheTimer() {
        for seed in UInt64(1)...10 {
            let timeout = Self.undisturbedTimeout(seed: seed)
            var h = CoreHarness(state: Self.upToDate, seed: seed)
            _ = h.tick(timeout - 1)
            _ = h.step(Message(from: 3, to: 1, term: 7, kind: .heartbeatResponse))
            XCTAssertEqual(h.node.term, 7)
            XCTAssertEqual(Self.ticksToCampaign(&h), 1, "seed \(seed): a higher-term reply is not a leader, the timer runs on")
        }
    }

    func testLostElectionDoesNotRestartTheTimer() {
        for seed in UInt64(1)...10 {
            // How long an unanswered candidacy waits before the next one.
            var quiet = CoreHarness(state: Self.upToDate, seed: seed)
            _ = Self.ticksToCampaign(&quiet)
            let retry = Self.ticksToCampaign(&quiet, limit: 200)!
            var h = CoreHarness(state: Self.upToDate, seed: seed)
            _ = Self.ticksToCampaign(&h)
            _ = h.tick(retry - 1)
            XCTAssertEqual(h.node.role, .candidate)
            let term = h.node.term
            for voter: NodeID in [2, 3] {
                _ = h.step(Message(from: voter, to: 1, term: term, kind: .requestVoteResponse(granted: false)))
            }
            XCTAssertEqual(h.node.role, .follower, "a majority of refusals loses the election")
            XCTAssertEqual(Self.ticksToCampaign(&h), 1, "seed \(seed): losing an election must not restart the timer")
        }
    }

    func testStaleCandidatesWithRisingTermsCannotStarveAnUpToDateNode() {
        for seed in UInt64(1)...10 {
            var h = CoreHarness(state: Self.upToDate, seed: seed)
            var term: Term = 1
            var campaignedAfter: Int?
            for t in 1...(4 * h.node.config.electionTicks) {
                if t % 3 == 0 {
                    // A stale candidate that keeps timing out asks again with a higher term.
                    term = max(term, h.node.term) + 1
                    let out = h.step(Message(from: 2, to: 1, term: term, kind: .requestVote(lastLogIndex: 1, lastLogTerm: 1)))
                    XCTAssertEqual(out.first?.isVoteGranted, false)
                }
                h.node.tick()
                _ = h.flush()
                if h.node.role != .follower { campaignedAfter = t; break }
            }
            XCTAssertNotNil(campaignedAfter, "seed \(seed): the up-to-date node never campaigned")
            XCTAssertLessThan(campaignedAfter ?? .max, 2 * h.node.config.electionTicks,
                              "seed \(seed): it campaigns within its own randomized timeout")
        }
    }
}
