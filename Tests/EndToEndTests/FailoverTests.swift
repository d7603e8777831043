import Foundation
import KVClient
import Wire
import XCTest

/// Real processes: kvctl round trips, leader crash and pause, catch-up after restart.
final class FailoverTests: XCTestCase {
    func testThreeNodesKVCtlLeaderKillAndCatchUp() async throws {
        let cluster = try ProcessCluster(self, size: 3)
        let first = try await cluster.waitForLeader()

        // kvctl, as a user would run it.
        var r = try cluster.kvctl(["put", "greeting", "hello"])
        XCTAssertEqual(r.0, 0, r.2)
        XCTAssertEqual(r.1, "OK\n")
        r = try cluster.kvctl(["get", "greeting"])
        XCTAssertEqual(r.1, "greeting\nhello\n")
        r = try cluster.kvctl(["get", "--print-value-only", "greeting"])
        XCTAssertEqual(r.1, "hello\n")
        r = try cluster.kvctl(["get", "missing"])
        XCTAssertEqual(r.0, 0)
        XCTAssertEqual(r.1, "")
        r = try cluster.kvctl(["put", "piped"], stdin: "from stdin\n")
        XCTAssertEqual(r.0, 0, r.2)
        r = try cluster.kvctl(["get", "piped", "--print-value-only"])
        XCTAssertEqual(r.1, "from stdin\n")
        r = try cluster.kvctl(["del", "greeting"])
        XCTAssertEqual(r.1, "1\n")
        r = try cluster.kvctl(["del", "greeting"])
        XCTAssertEqual(r.1, "0\n")
        r = try cluster.kvctl(["endpoint", "status", "-w", "table"])
        XCTAssertEqual(r.0, 0, r.2)
        XCTAssertTrue(r.1.contains("leader"), r.1)
        r = try cluster.kvctl(["member", "list"])
        XCTAssertEqual(r.1.split(separator: "\n").count, 3, r.1)
        r = try cluster.kvctl(["get"])
        XCTAssertNotEqual(r.0, 0)
        XCTAssertTrue(r.2.hasPrefix("Error:"), r.2)

        let client = try cluster.client()
        defer { client.close() }
        var acked: [String: String] = [:]
        for i in 0..<30 {
            try await client.put("k\(i)", "v\(i)")
            acked["k\(i)"] = "v\(i)"
        }

        // SIGKILL the leader: the other two elect a new one within a few election timeouts.
        let killedAt = ContinuousClock.now
        cluster.nodes[first.index].kill()
        let second = try await cluster.waitForLeader(excluding: [first.index])
        let took = ContinuousClock.now - killedAt
        XCTAssertLessThan(took, cluster.electionTimeout * 8, "re-election took \(took)")
        XCTAssertGreaterThan(second.status.term, first.status.term)

        for i in 30..<40 {
            try await client.put("k\(i)", "v\(i)")
            acked["k\(i)"] = "v\(i)"
        }
        for (k, v) in acked {
            let got = try await client.get(k)
            XCTAssertEqual(got, v, "acknowledged write of \(k) lost")
        }

        // Restart the old leader: it catches up to the leader's commit index.
        try cluster.nodes[first.index].start()
        let target = await cluster.statuses()[second.index]!.commitIndex
        try await cluster.eventually("\(cluster.nodes[first.index].name) to apply up to \(target)") {
            (await cluster.statuses()[first.index]?.appliedIndex ?? 0) >= target
        }
    }

    func testFiveNodesSurviveTwoKillsAndAPausedLeader() async throws {
        let cluster = try ProcessCluster(self, size: 5)
        let l0 = try await cluster.waitForLeader()
        let client = try cluster.client()
        defer { client.close() }
        var acked: [String: String] = [:]
        func write(_ range: Range<Int>) async throws {
            for i in range {
                try await client.put("key\(i)", "value\(i)")
                acked["key\(i)"] = "value\(i)"
            }
        }
        try await write(0..<10)

        // Two of five down (the leader among them): three still form a quorum.
        let victims = [l0.index, (l0.index + 1) % 5]
        for v in victims { cluster.nodes[v].kill() }
        _ = try await cluster.waitForLeader(excluding: Set(victims))
        try await write(10..<20)
        for v in victims { try cluster.nodes[v].start() }

        // SIGSTOP the leader: the other four elect a new one and keep serving.
        let l1 = try await cluster.waitForLeader()
        cluster.nodes[l1.index].pause()
        let l2 = try await cluster.waitForLeader(excluding: [l1.index])
        XCTAssertGreaterThan(l2.status.term, l1.status.term)
        try await write(20..<30)

        // SIGCONT: the old leader sees the higher term and steps down.
        cluster.nodes[l1.index].resume()
        try await cluster.eventually("\(cluster.nodes[l1.index].name) to step down") {
            guard let s = await cluster.statuses()[l1.index] else { return false }
            return "\(s.role)" == "follower" && s.term >= l2.status.term && s.leaderID != 0
        }

        // Nothing lost or corrupted: every acknowledged write reads back, and all five
        // members converge on the same term, leader and applied index.
        for (k, v) in acked {
            let got = try await client.get(k)
            XCTAssertEqual(got, v, "acknowledged write of \(k) lost")
        }
        try await cluster.eventually("all members to converge") {
            let s = await cluster.statuses()
            guard s.count == 5 else { return false }
            let applied = Set(s.values.map(\.appliedIndex)), leaders = Set(s.values.map(\.leaderID))
            return applied.count == 1 && leaders.count == 1 && leaders.first != 0
        }
    }
}
