import Raft
import Simulation
import XCTest

/// PreVote (thesis §9.6) end to end on the simulator: a node cut off from the cluster keeps
/// asking whether it could win, is never told yes, and so never raises any term.
final class PreVoteScenarioTests: XCTestCase {
    /// Cuts one follower off for many election timeouts, heals, and returns the healthy
    /// majority's term before the cut, the loner's term while cut off, and every node's term
    /// and the leaders after the heal.
    private func isolateAndRejoin(seed: UInt64, preVote: Bool) throws
        -> (before: Term, lonerCut: Term, after: [Term], leaderBefore: NodeID, leadersAfter: [NodeID], c: SimCluster) {
        var opts = SimCluster.Options()
        opts.preVote = preVote
        let c = SimCluster(nodes: 5, seed: seed, options: opts)
        let leader = try c.awaitLeader()
        c.run(ticks: 20)
        let before = try XCTUnwrap(c.node(leader)).term
        let loner = try XCTUnwrap(c.ids.first { $0 != leader })
        c.partition([[loner], c.ids.filter { $0 != loner }])
        c.run(ticks: 400) // at least 20 election timeouts
        let lonerCut = try XCTUnwrap(c.node(loner)).term
        c.heal()
        c.run(ticks: 300)
        return (before, lonerCut, c.ids.map { c.node($0)?.term ?? 0 }, leader, c.leaders, c)
    }

    func testRejoiningNodeNeverRaisesTheMajoritysTerm() throws {
        for seed: UInt64 in 1101...1105 {
            let r = try isolateAndRejoin(seed: seed, preVote: true)
            XCTAssertEqual(r.lonerCut, r.before, "seed \(seed): cut off, the loner never raised even its own term")
            XCTAssertEqual(r.after, Array(repeating: r.before, count: 5), "seed \(seed): no term rose after the rejoin")
            XCTAssertEqual(r.leadersAfter, [r.leaderBefore], "seed \(seed): the healthy leader was never deposed")
            r.c.assertNoViolation()
        }
    }

    /// The same run without PreVote shows what the scenario guards against: the loner's
    /// elections raise its term, and on return it forces the majority into that higher term.
    func testWithoutPreVoteTheRejoiningNodeRaisesTheTerm() throws {
        let r = try isolateAndRejoin(seed: 1101, preVote: false)
        XCTAssertGreaterThan(r.lonerCut, r.before)
        XCTAssertGreaterThan(r.after.max() ?? 0, r.before)
        r.c.assertNoViolation()
    }
}
