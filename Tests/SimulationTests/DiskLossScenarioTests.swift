import KV
import Raft
import Replica
import Simulation
import Storage
import XCTest

/// Issue #9 §4: a member that lost its whole disk comes back empty under an identity the
/// cluster knows. It must not vote (or be counted) until it has caught up, or it can help
/// a stale node win an election and erase acknowledged writes.
final class DiskLossScenarioTests: XCTestCase {
    /// The reproduction from the issue, on 3 nodes: n1 down; 20 acknowledged writes held by
    /// n2 and n3; n3's disk lost; n2 down; n1 and the empty n3 restart. No acknowledged write
    /// may be lost: the cluster may stay unavailable until n2 returns, then must recover.
    func testAWipedVoterCannotElectAStaleNodeAndLoseAcknowledgedWrites() throws {
        for seed: UInt64 in [901, 902, 903, 904, 905] {
            try reproduce(seed: seed)
        }
    }

    private func reproduce(seed: UInt64) throws {
        let c = SimCluster(nodes: 3, seed: seed)
        _ = try c.awaitLeader()
        // Something committed before n1 goes, so the cluster has a history n1 shares.
        try putAcknowledged(c, key: "before", value: "0", seq: 1)
        c.crash(1)
        XCTAssertTrue(c.run(upTo: 300) { $0.leader != nil }, "seed \(seed): n2 and n3 elect a leader")
        for i in 1...20 {
            try putAcknowledged(c, key: "k\(i)", value: "v\(i)", seq: UInt64(1 + i))
        }
        // Both survivors hold all 20 (n1 is down, so every commit needed both).
        XCTAssertTrue(c.run(upTo: 100) { c in [2, 3].allSatisfy { c.value("k20", on: $0) == "v20" } })

        // n3's disk dies; the operator restarts it empty with `--initial-cluster-state existing`.
        c.loseDisk(3)
        c.crash(2)
        c.restart(1)
        c.restart(3)
        c.run(ticks: 600)
        c.assertNoViolation()
        let n3 = try XCTUnwrap(c.node(3))
        XCTAssertTrue(n3.recovering, "seed \(seed): the empty n3 is recovering while no leader can bring it up to date")
        XCTAssertGreaterThan(n3.votesRefusedWhileRecovering, 0, "seed \(seed): n1 asked n3 for its vote")
        if let l = c.leader {
            // Whoever leads without n2 must hold every acknowledged write.
            for i in 1...20 {
                XCTAssertEqual(c.value("k\(i)", on: l), "v\(i)", "seed \(seed): leader n\(l) lost acknowledged k\(i)")
            }
        }

        // n2 returns: the cluster serves, every node converges and holds every write.
        c.restart(2)
        XCTAssertTrue(c.run(upTo: 1_500) { c in
            c.leader != nil && c.liveIDs.count == 3 && Set(c.commits).count == 1
                && c.liveIDs.allSatisfy { c.node($0)!.log.applied == c.node($0)!.log.committed }
        }, "seed \(seed): the cluster recovers once n2 is back; commits \(c.commits)")
        try putAcknowledged(c, key: "after", value: "1", seq: 30)
        XCTAssertTrue(c.run(upTo: 200) { c in c.liveIDs.allSatisfy { c.value("after", on: $0) == "1" } })
        c.checkLogs()
        c.assertNoViolation()
        XCTAssertEqual(c.node(3)?.recovering, false, "seed \(seed): n3 caught up and votes again")
        for id in c.ids {
            for i in 1...20 {
                XCTAssertEqual(c.value("k\(i)", on: id), "v\(i)", "seed \(seed): n\(id) lacks acknowledged k\(i)")
            }
            XCTAssertEqual(c.value("before", on: id), "0", "seed \(seed): n\(id)")
        }
    }

    /// The sweep's `diskloss` fault: on the seeds that draw it, whole disks are lost and the
    /// nodes rejoin in recovery among all the other faults; the run's invariants, liveness
    /// and the linearizability checker are the judges.
    func testSweepSeedsThatLoseWholeDisksStayLinearizableAndRecover() {
        var lost = 0, recovered = 0, seedsWithLoss = 0
        for seed: UInt64 in 1...40 {
            var cfg = SimulationConfig()
            cfg.seed = seed
            cfg.nodes = 3
            cfg.faultTicks = 1_500
            let r = runSimulation(cfg)
            XCTAssertTrue(r.passed, "seed \(seed): \(r.failure ?? "")\n\(r.lastEvents.suffix(20).joined(separator: "\n"))")
            lost += r.disksLost
            recovered += r.recoveries
            seedsWithLoss += r.disksLost > 0 ? 1 : 0
        }
        XCTAssertGreaterThan(seedsWithLoss, 3, "a share of seeds lose disks")
        XCTAssertGreaterThan(recovered, 0, "lost nodes finish recovering")
        print("disk loss sweep: \(lost) disks lost on \(seedsWithLoss) of 40 seeds, \(recovered) recoveries finished")
    }

    /// A put on the leader that is acknowledged (committed and applied there).
    private func putAcknowledged(_ c: SimCluster, key: String, value: String, seq: UInt64,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        var token: UInt64?
        XCTAssertTrue(c.run(upTo: 300) { c in
            token = token ?? c.putOnLeader(key, value, seq: seq)
            return token.map { c.directReplies[$0] != nil } ?? false
        }, "seed \(c.seed): put \(key) not answered", file: file, line: line)
        let t = try XCTUnwrap(token, file: file, line: line)
        guard case .result = c.directReplies[t] else {
            XCTFail("seed \(c.seed): put \(key) answered \(String(describing: c.directReplies[t]))", file: file, line: line)
            return
        }
    }

}
