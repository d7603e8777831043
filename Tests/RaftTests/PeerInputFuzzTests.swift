import Raft
import XCTest

/// Never crash on input from a peer: random (but well-formed, as the wire decoder admits
/// them) messages, ticks and proposals against one core, with the Ready contract followed.
/// A trap fails the test process; the invariants are checked by the core's preconditions.
final class PeerInputFuzzTests: XCTestCase {
    func testRandomPeerMessagesNeverTrapTheCore() {
        for seed in UInt64(1)...30 {
            var rng = SeededRandom(seed: seed)
            var h = CoreHarness(id: 1, voters: [1, 2, 3], seed: seed) { $0.snapshotChunkBytes = 3 }
            let compacting = seed % 2 == 0
            for _ in 0..<3000 {
                let t = h.node.term + rng.below(3)          // mostly current or next terms
                let from = NodeID(2 + rng.below(2))
                let last = h.node.log.lastIndex
                // Mostly near our log; sometimes far past it (a confused or lying peer).
                func idx() -> LogIndex { rng.chance(0.1) ? rng.below(1000) : rng.below(last + 4) }
                let kind: MessageKind
                // As leader, answers from followers are what a peer can lie in.
                switch h.node.role == .leader && rng.chance(0.5) ? [4, 6, 8][Int(rng.below(3))] : rng.below(10) {
                case 0: kind = .requestVote(lastLogIndex: idx(), lastLogTerm: rng.below(t + 1))
                case 1: kind = .requestVoteResponse(granted: rng.chance(0.5))
                case 2, 3:
                    let prev = idx()
                    let prevTerm = rng.below(t + 1)
                    var es: [Entry] = []
                    var term = prevTerm
                    for k in 0..<Int(rng.below(4)) {
                        term = min(t, term + rng.below(2))
                        es.append(Entry(term: max(term, 1), index: prev + 1 + LogIndex(k), data: [UInt8(k)]))
                    }
                    kind = .appendEntries(prevLogIndex: prev, prevLogTerm: prevTerm, entries: es, leaderCommit: idx())
                case 4: kind = .appendEntriesResponse(success: rng.chance(0.5), index: idx(), hintTerm: rng.below(t + 1), hintIndex: idx())
                case 5: kind = .heartbeat(commit: idx())
                case 6: kind = .heartbeatResponse
                case 7:
                    let data: [UInt8] = [1, 2, 3, 4, 5]
                    let off = rng.below(6)
                    let meta = SnapshotMetadata(index: idx(), term: max(1, rng.below(t + 1)), config: ClusterConfig(voters: [1, 2, 3]))
                    if rng.chance(0.5) {
                        kind = .installSnapshot(metadata: meta, offset: 0, totalSize: 5, chunk: data, done: true)
                    } else {
                        kind = .installSnapshot(metadata: meta, offset: off, totalSize: 5,
                                                chunk: Array(data[Int(min(off, 5))...].prefix(3)), done: rng.chance(0.5))
                    }
                case 8: kind = .installSnapshotResponse(index: idx(), nextOffset: rng.below(8), done: rng.chance(0.5))
                default:
                    h.node.tick()
                    if h.node.role == .leader { _ = try? h.node.propose([7]) }
                    _ = h.flush()
                    continue
                }
                _ = h.step(Message(from: from, to: 1, term: t, kind: kind))
                // Keep the applied index moving and compact now and then, as a replica would.
                if compacting, h.node.log.applied > h.node.log.compactedIndex + 5, rng.chance(0.1),
                   let term = h.node.log.term(at: h.node.log.applied) {
                    let snap = Snapshot(metadata: SnapshotMetadata(index: h.node.log.applied, term: term, config: h.node.cluster), data: [1])
                    h.node.compact(snapshot: snap, compactThrough: h.node.log.applied)
                }
            }
            XCTAssertLessThanOrEqual(h.node.log.committed, h.node.log.lastIndex, "seed \(seed)")
        }
    }
}
