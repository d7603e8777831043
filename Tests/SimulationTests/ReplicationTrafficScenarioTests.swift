import KV
import Raft
import Simulation
import Wire
import XCTest

/// Issue #16 part 2: a leader sends each entry to each follower once when nothing is lost,
/// whatever the round trip; and repairs losses within a few round trips.
final class ReplicationTrafficScenarioTests: XCTestCase {
    static let heartbeatTicks = 2
    static let entryBytes = 5000
    static let proposals = 30

    struct Traffic {
        var messages = 0
        var appends = 0
        /// Encoded bytes of every Raft message (the wire codec's size).
        var bytes = 0
        var appendBytes = 0
        /// Bytes of entry data carried by AppendEntries.
        var entryDataBytes = 0
        /// Data bytes of the entries committed in the window (sent once to each follower
        /// is the minimum).
        var committedDataBytes = 0
        var committedEntries = 0
        /// Ticks from each proposal until every node has applied it, ascending.
        var latencies: [Int] = []
        var worstLatency: Int { latencies.last ?? 0 }
        var medianLatency: Int { latencies.isEmpty ? 0 : latencies[latencies.count / 2] }
        var rttTicks = 0
    }

    /// 3 nodes, one-way delay `rttHeartbeats * H / 2`; after the leader settles, one
    /// proposal of `entryBytes` per tick, then run until all nodes applied all of them.
    static func measure(rttHeartbeats: Int, dropRate: Double, seed: UInt64) -> Traffic? {
        var opts = SimCluster.Options()
        opts.heartbeatTicks = heartbeatTicks
        opts.electionTicks = 20
        let c = SimCluster(nodes: 3, seed: seed, options: opts)
        let oneWay = rttHeartbeats * heartbeatTicks / 2
        c.network.faults.minDelay = oneWay
        c.network.faults.maxDelay = oneWay
        guard c.run(upTo: 1000, until: { $0.leader != nil }) else { return nil }
        c.run(ticks: 10 * oneWay + 20)
        guard let leader = c.leader else { return nil }
        c.network.faults.dropRate = dropRate
        var t = Traffic()
        t.rttTicks = 2 * oneWay
        c.onSend = { _, m in
            let size = m.encoded().count
            t.messages += 1
            t.bytes += size
            if case let .appendEntries(_, _, es, _) = m.kind {
                t.appends += 1
                t.appendBytes += size
                t.entryDataBytes += es.reduce(0) { $0 + $1.data.count }
            }
        }
        let start = c.node(leader)!.log.lastIndex
        var proposedAt: [LogIndex: UInt64] = [:]
        let value = Array(String(repeating: "v", count: entryBytes).utf8)
        guard let session = c.registerSession(on: leader) else { return nil }
        var doneAt: [LogIndex: UInt64] = [:]
        func tickAndRecord() {
            c.tick()
            let applied = c.ids.map { c.node($0)!.log.applied }.min()!
            for (i, _) in proposedAt where i <= applied && doneAt[i] == nil { doneAt[i] = c.now }
        }
        for i in 0..<proposals {
            guard c.leader == leader,
                  c.propose(on: leader, session: session, seq: UInt64(i + 1), .put(key: Array("k\(i)".utf8), value: value)) != nil
            else { return nil }
            proposedAt[c.node(leader)!.log.lastIndex] = c.now
            tickAndRecord()
        }
        let last = c.node(leader)!.log.lastIndex
        for _ in 0..<2000 where doneAt.count < proposedAt.count { tickAndRecord() }
        guard doneAt.count == proposedAt.count, c.leader == leader else { return nil }
        // A few more round trips: late re-sends would show up here.
        c.run(ticks: 3 * t.rttTicks + 2 * heartbeatTicks)
        let log = c.node(leader)!.log
        for i in (start + 1)...last {
            t.committedDataBytes += log.entry(at: i)!.data.count
            t.committedEntries += 1
        }
        t.latencies = proposedAt.map { Int(doneAt[$0.key]! - $0.value) }.sorted()
        if let v = c.invariants.violation { XCTFail("seed \(seed): \(v)") }
        return t
    }

    func testNoSpuriousResendsWhateverTheRoundTrip() {
        let followers = 2
        for rtt in [1, 2, 5] {
            for seed in UInt64(1)...3 {
                guard let t = Self.measure(rttHeartbeats: rtt, dropRate: 0, seed: seed) else {
                    XCTFail("rtt \(rtt) seed \(seed): the leader did not keep its term or commit"); continue
                }
                let need = Double(followers * t.committedDataBytes)
                let perEntry = Double(t.appendBytes) / Double(t.committedEntries)
                print("traffic rtt=\(rtt)HB seed \(seed): \(t.committedEntries) entries; \(t.appends) appends, \(t.messages) messages,"
                      + " \(t.bytes) bytes (\(Int(perEntry)) append bytes/entry, minimum \(Int(need) / t.committedEntries));"
                      + " entry data sent \(String(format: "%.2f", Double(t.entryDataBytes) / need))x the minimum")
                XCTAssertLessThanOrEqual(Double(t.entryDataBytes), 1.1 * need,
                                         "rtt \(rtt) HB seed \(seed): entry data re-sent without loss")
                // Headers: at most 64 bytes per entry per follower on top of the data.
                XCTAssertLessThanOrEqual(Double(t.appendBytes), 1.1 * need + Double(64 * followers * t.committedEntries),
                                         "rtt \(rtt) HB seed \(seed): AppendEntries bytes per entry")
            }
        }
    }

    func testLossIsRepairedWithinAFewRoundTrips() {
        for rtt in [1, 2, 5] {
            for seed in UInt64(11)...15 {
                guard let t = Self.measure(rttHeartbeats: rtt, dropRate: 0.1, seed: seed) else {
                    XCTFail("rtt \(rtt) seed \(seed): the leader did not keep its term or commit"); continue
                }
                let need = Double(2 * t.committedDataBytes)
                let r = Double(t.rttTicks)
                print("loss10% rtt=\(rtt)HB seed \(seed): proposal-to-applied-everywhere median \(t.medianLatency) ticks"
                      + " (\(String(format: "%.1f", Double(t.medianLatency) / r)) RTT), worst \(t.worstLatency)"
                      + " (\(String(format: "%.1f", Double(t.worstLatency) / r)) RTT);"
                      + " \(t.appends) appends, \(t.messages) messages, \(t.bytes) bytes,"
                      + " entry data \(String(format: "%.2f", Double(t.entryDataBytes) / need))x the minimum")
                // Without loss an entry is applied everywhere in about 1.5 round trips plus a
                // heartbeat (commit reaches followers with the next heartbeat or append).
                XCTAssertLessThanOrEqual(t.medianLatency, 3 * t.rttTicks + 2 * Self.heartbeatTicks,
                                         "rtt \(rtt) HB seed \(seed): typical entry delayed by loss")
                // A lost append or ack is re-sent after a retransmit timeout (about 2 RTT,
                // at most E); the worst entry may need several retries in a row at 10% loss.
                XCTAssertLessThanOrEqual(t.worstLatency, 4 * (2 * t.rttTicks + 2 * Self.heartbeatTicks) + 2 * 20,
                                         "rtt \(rtt) HB seed \(seed): repair took \(t.worstLatency) ticks")
            }
        }
    }
}
