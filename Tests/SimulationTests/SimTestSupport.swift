import KV
import Raft
import Replica
import Simulation
import XCTest

/// Helpers shared by the scenario tests.
extension SimCluster {
    /// Proposes a put directly on the current leader, in a session registered just before it
    /// (`registerSession`); returns the put's token, or nil if there is no leader.
    @discardableResult
    func putOnLeader(_ key: String, _ value: String, seq: UInt64) -> UInt64? {
        guard let l = leader, let session = registerSession(on: l) else { return nil }
        return propose(on: l, session: session, seq: seq, .put(key: Array(key.utf8), value: Array(value.utf8)))
    }

    /// Proposes a session registration on the leader `node` and returns the id it gets if it
    /// commits: its entry's index. Requests proposed right after it on the same leader may
    /// use the id at once (they apply after it, or are dropped with it).
    func registerSession(on node: NodeID) -> UInt64? {
        guard let r = replica(node), r.node.role == .leader else { return nil }
        let id = r.node.log.lastIndex + 1
        return propose(on: node, .register).refused == nil ? id : nil
    }

    /// Proposes `command` as sequence `seq` of `session` on `node`; the token, or nil if refused.
    @discardableResult
    func propose(on node: NodeID, session: UInt64, seq: UInt64, fua: UInt64? = nil, _ command: KVCommand) -> UInt64? {
        let req = ClientRequest(clientID: session, sequence: seq, firstUnacknowledged: fua ?? seq, command: command)
        let (token, refused) = propose(on: node, req)
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
