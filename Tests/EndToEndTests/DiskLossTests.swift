import Foundation
import KVClient
import Wire
import XCTest

/// Issue #9 §4 with real processes: a member whose data directory was moved aside comes
/// back empty. Whatever the cluster does meanwhile (it may refuse to serve), no acknowledged
/// write is lost, and once the member that holds them returns, every member converges.
final class DiskLossTests: XCTestCase {
    /// The empty node is restarted exactly as before (no new flag): the peers' handshakes
    /// tell it that the cluster has a history, so it must not vote until it caught up.
    func testEmptyRestartWithTheSameFlagsLosesNoAcknowledgedWrite() async throws {
        try await reproduce(emptyNodeFlags: [])
    }

    /// The documented procedure: an empty directory and `--initial-cluster-state existing`.
    func testEmptyRestartAsAnExistingMemberLosesNoAcknowledgedWrite() async throws {
        try await reproduce(emptyNodeFlags: ["--initial-cluster-state", "existing"])
    }

    private func reproduce(emptyNodeFlags: [String]) async throws {
        let cluster = try ProcessCluster(self, size: 3)
        let (n1, n2, n3) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
        _ = try await cluster.waitForLeader()
        let client = try cluster.client(commandTimeout: .seconds(10))
        defer { client.close() }
        try await client.put("before", "0")
        // n1 must hold "before" too, so that it shares the cluster's history.
        try await cluster.eventually("n1 to apply the first write") {
            let s = await cluster.statuses()
            return s.count == 3 && Set(s.values.map(\.appliedIndex)).count == 1
        }

        // 1. Kill n1. 2. Twenty acknowledged writes, held by n2 and n3 alone.
        n1.kill()
        var acked: [String: String] = ["before": "0"]
        for i in 1...20 {
            try await client.put("k\(i)", "v\(i)")
            acked["k\(i)"] = "v\(i)"
        }
        try await cluster.eventually("n2 and n3 to apply every write") {
            let s = await cluster.statuses()
            guard let a = s[1], let b = s[2] else { return false }
            return a.appliedIndex == b.appliedIndex && a.appliedIndex == a.commitIndex
        }

        // 3. Kill n3 and move its data directory aside. 4. Kill n2.
        n3.kill()
        let aside = n3.dataDir.deletingLastPathComponent().appendingPathComponent("n3.aside")
        try FileManager.default.moveItem(at: n3.dataDir, to: aside)
        n2.kill()

        // 5. Restart n1 and the empty n3. Give them many election timeouts.
        n3.extraArguments = emptyNodeFlags
        try n1.start()
        try n3.start()
        try await Task.sleep(for: cluster.electionTimeout * 15)
        let short = try cluster.client(commandTimeout: .seconds(2), attemptTimeout: .milliseconds(500))
        defer { short.close() }
        // Unavailable is allowed; a wrong or missing value is not. One read shows which.
        if (try? await short.get("k1")) != nil {
            for (k, v) in acked {
                let got = try? await short.get(k)
                XCTAssertEqual(got, v, "without n2, \(k) reads \(String(describing: got)): an acknowledged write is lost\n\(cluster.logs())")
            }
        }
        XCTAssertTrue(n3.logTail(200).contains("recover"), "n3 says it is recovering\n\(n3.logTail())")

        // n2 returns: the cluster serves again, all three converge, every write reads back.
        try n2.start()
        _ = try await cluster.waitForLeader(timeout: .seconds(20))
        for (k, v) in acked {
            let got = try await client.get(k)
            XCTAssertEqual(got, v, "acknowledged write of \(k) lost\n\(cluster.logs())")
        }
        try await client.put("after", "1")
        try await cluster.eventually("all three members to converge", timeout: .seconds(20)) {
            let s = await cluster.statuses()
            guard s.count == 3 else { return false }
            let applied = Set(s.values.map(\.appliedIndex)), leaders = Set(s.values.map(\.leaderID))
            return applied.count == 1 && leaders.count == 1 && leaders.first != 0
        }
    }
}
