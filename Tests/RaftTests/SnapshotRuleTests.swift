import Raft
import XCTest

/// InstallSnapshot and compaction rules (§7).
final class SnapshotRuleTests: XCTestCase {
    private let config = ClusterConfig(voters: [1, 2, 3])

    private func chunk(_ meta: SnapshotMetadata, _ data: [UInt8], offset: Int, size: Int, term: Term) -> Message {
        let end = min(data.count, offset + size)
        return Message(from: 2, to: 1, term: term, kind: .installSnapshot(metadata: meta, offset: UInt64(offset), totalSize: UInt64(data.count),
                                                                          chunk: Array(data[offset..<end]), done: end == data.count))
    }

    private func snapshotResponse(_ ms: [Message]) -> (index: LogIndex, next: UInt64, done: Bool)? {
        for m in ms { if case let .installSnapshotResponse(i, n, d) = m.kind { return (i, n, d) } }
        return nil
    }

    func testSnapshotInstallDiscardsConflictingSuffix() {
        // Uncommitted entries 1...6 from term 1; the leader's snapshot covers index 4 at term 2.
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 1, 1, 1, 1, 1])))
        let meta = SnapshotMetadata(index: 4, term: 2, config: config)
        let out = h.step(chunk(meta, [1, 2, 3], offset: 0, size: 10, term: 2))
        XCTAssertEqual(snapshotResponse(out)?.done, true)
        XCTAssertEqual(h.node.log.compactedIndex, 4)
        XCTAssertEqual(h.node.log.lastIndex, 4, "the conflicting suffix is gone")
        XCTAssertEqual(h.node.log.committed, 4)
        XCTAssertEqual(h.persisted.snapshot?.metadata, meta)
        // Replication resumes right after the snapshot.
        let r = h.step(appendMsg(term: 2, prev: 4, prevTerm: 2, [Entry(term: 2, index: 5)], commit: 5)).first?.appendResponse
        XCTAssertEqual(r?.success, true)
        XCTAssertEqual(h.node.log.committed, 5)
    }

    func testSnapshotInstallKeepsMatchingSuffix() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 2), entries: entries([1, 1, 2, 2, 2])))
        let meta = SnapshotMetadata(index: 3, term: 2, config: config)
        _ = h.step(chunk(meta, [9], offset: 0, size: 10, term: 2))
        XCTAssertEqual(h.node.log.compactedIndex, 3)
        XCTAssertEqual(h.node.log.lastIndex, 5, "entries after a matching snapshot index stay")
    }

    func testSnapshotChunksAssembleInOrderAndOutOfOrderIsRedirected() {
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 3)))
        let meta = SnapshotMetadata(index: 10, term: 3, config: config)
        let data = (0..<10).map { UInt8($0) }
        XCTAssertEqual(snapshotResponse(h.step(chunk(meta, data, offset: 0, size: 4, term: 3)))?.next, 4)
        // A chunk at the wrong offset (8 instead of 4) is answered with what we need.
        let redirect = snapshotResponse(h.step(chunk(meta, data, offset: 8, size: 4, term: 3)))
        XCTAssertEqual(redirect?.next, 4)
        XCTAssertEqual(redirect?.done, false)
        XCTAssertEqual(snapshotResponse(h.step(chunk(meta, data, offset: 4, size: 4, term: 3)))?.next, 8)
        let last = snapshotResponse(h.step(chunk(meta, data, offset: 8, size: 4, term: 3)))
        XCTAssertEqual(last?.done, true)
        XCTAssertEqual(h.persisted.snapshot?.data, data)
    }

    func testCorruptSnapshotIsRefusedAndTransferRestarts() {
        var c = RaftConfig(id: 1, voters: [1, 2, 3])
        c.electionTicks = 10
        var h = CoreHarness(state: PersistentState(hardState: HardState(term: 3)))
        h.node = RaftNode(config: c, state: PersistentState(hardState: HardState(term: 3)), seed: 1, snapshotValidator: { $0.first == 0xAA })
        let meta = SnapshotMetadata(index: 10, term: 3, config: config)
        let r = snapshotResponse(h.step(chunk(meta, [0xBB, 1, 2], offset: 0, size: 10, term: 3)))
        XCTAssertEqual(r?.done, false)
        XCTAssertEqual(r?.next, 0, "a snapshot failing its checksum is discarded and restarted")
        XCTAssertNil(h.persisted.snapshot)
        XCTAssertEqual(h.node.log.compactedIndex, 0)
    }

    func testLeaderSendsSnapshotWhenEntriesAreCompacted() {
        var h = CoreHarness { $0.snapshotChunkBytes = 2 }
        _ = h.becomeLeader()
        for i in 0..<5 { _ = try! h.node.propose([UInt8(i)]) }
        // Follower 3 acknowledges everything so the entries commit and apply.
        _ = h.step(Message(from: 3, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: true, index: 6, hintTerm: 0, hintIndex: 0)))
        XCTAssertEqual(h.node.log.applied, 6)
        let snap = Snapshot(metadata: SnapshotMetadata(index: 6, term: h.node.term, config: config), data: [1, 2, 3])
        h.node.compact(snapshot: snap, compactThrough: 6)
        // Follower 2 rejects: it has nothing. The leader must fall back to the snapshot.
        let out = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .appendEntriesResponse(success: false, index: 0, hintTerm: 0, hintIndex: 1)))
        _ = out
        let hb = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .heartbeatResponse))
        let sent = (out + hb).compactMap { m -> UInt64? in
            if m.to == 2, case let .installSnapshot(meta, offset, _, c, _) = m.kind, meta.index == 6 { XCTAssertLessThanOrEqual(c.count, 2); return offset }
            return nil
        }
        XCTAssertFalse(sent.isEmpty, "the leader sends the snapshot in chunks")
        let done = h.step(Message(from: 2, to: 1, term: h.node.term, kind: .installSnapshotResponse(index: 6, nextOffset: 3, done: true)))
        _ = done
        XCTAssertEqual(h.node.progress.first { $0.id == 2 }?.match, 6)
    }
}
