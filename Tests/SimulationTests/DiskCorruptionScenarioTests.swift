import KV
import Raft
import Replica
import Simulation
import StorageTestSupport
import XCTest

/// A node whose disk returns corrupted bytes notices through the CRCs and refuses to start,
/// rather than rejoining with a damaged log; the rest of the cluster keeps serving.
final class DiskCorruptionScenarioTests: XCTestCase {
    func testCorruptedReadsOnRestartAreDetectedAndTheNodeStaysDown() throws {
        let c = SimCluster(nodes: 3, seed: 611)
        _ = try c.awaitLeader()
        for i in 1...20 {
            let t = try XCTUnwrap(c.putOnLeader("d", "\(i)", seq: UInt64(i)))
            XCTAssertTrue(c.run(upTo: 100) { $0.directReplies[t] != nil })
        }
        let victim = c.ids.first { $0 != c.leader }!
        c.crash(victim)
        c.fileSystems[Int(victim - 1)].readCorruption = SimFileSystem.ReadCorruption(probability: 1, rng: SeededRandom(seed: 5))
        c.restart(victim)
        XCTAssertFalse(c.isUp(victim), "a node must not start from a log that fails its checksums")
        let v = try XCTUnwrap(c.invariants.violation, "the refusal is reported")
        XCTAssertTrue(v.contains("failed to restart from its disk"), v)
        XCTAssertTrue(v.contains("corrupt") || v.contains("checksum") || v.contains("CRC"), v)

        // The two healthy nodes still form a majority and commit.
        let t = try XCTUnwrap(c.putOnLeader("d", "after", seq: 21))
        for _ in 0..<100 where c.directReplies[t] == nil { c.tick() }
        XCTAssertEqual(c.directReplies[t].map { if case .result = $0 { return true } else { return false } }, true)
    }
}
