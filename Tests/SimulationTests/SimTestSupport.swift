import KV
import Raft
import Replica
import Simulation
import XCTest

/// Helpers shared by the scenario tests.
extension SimCluster {
    /// Proposes a put directly on the current leader; returns the token or nil if no leader.
    @discardableResult
    func putOnLeader(_ key: String, _ value: String, client: UInt64 = 7, seq: UInt64) -> UInt64? {
        guard let l = leader else { return nil }
        let req = ClientRequest(clientID: client, sequence: seq, firstUnacknowledged: seq,
                                command: .put(key: Array(key.utf8), value: Array(value.utf8)))
        let (token, refused) = propose(on: l, req)
        return refused == nil ? token : nil
    }

    /// Waits for a leader; throws (failing the test) if none appears, so that a caller never
    /// acts on a made-up node id (crashing "node 0" used to trap the whole XCTest process).
    func awaitLeader(within ticks: Int = 300, file: StaticString = #filePath, line: UInt = #line) throws -> NodeID {
        _ = run(upTo: ticks) { $0.leader != nil }
        return try XCTUnwrap(leader, "no leader within \(ticks) ticks (seed \(seed))", file: file, line: line)
    }

    /// Indexes every live node has applied.
    var appliedIndexes: [NodeID: LogIndex] {
        Dictionary(uniqueKeysWithValues: liveIDs.map { ($0, replica($0)!.node.log.applied) })
    }

    func value(_ key: String, on id: NodeID) -> String? {
        replica(id)?.kv.value(for: Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Committed log index of every live node.
    var commits: [LogIndex] { liveIDs.map { replica($0)!.node.log.committed } }

    func assertNoViolation(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(invariants.violation, "seed \(seed): \(invariants.violation ?? "")\n" + lastEvents.map(\.description).joined(separator: "\n"), file: file, line: line)
    }
}
