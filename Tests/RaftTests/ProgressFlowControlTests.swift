@testable import Raft
import XCTest

/// The leader's per-follower flow control (`Progress`, `Inflights`, `RoundTripEstimate`),
/// driven directly (issue #7 §2).
final class ProgressFlowControlTests: XCTestCase {
    func testInflightRingFreesFromTheFrontAcrossWrapAround() {
        var rng = SeededRandom(seed: 7)
        var ring = Inflights(capacity: 4)
        var model: [LogIndex] = []
        var next: LogIndex = 1
        for step in 0..<500 {
            if !ring.isFull && (model.isEmpty || rng.chance(0.6)) {
                next += 1 + rng.below(3)
                ring.add(last: next, at: UInt64(step))
                model.append(next)
            } else {
                let through = model[Int(rng.below(UInt64(model.count)))]
                let freed = ring.free(through: through)
                XCTAssertEqual(freed?.last, through, "seed 7 step \(step): the newest freed append")
                model.removeAll { $0 <= through }
            }
            XCTAssertEqual(ring.count, model.count, "seed 7 step \(step)")
            XCTAssertEqual(ring.oldest?.last, model.first, "seed 7 step \(step)")
            XCTAssertEqual(ring.newest?.last, model.last, "seed 7 step \(step)")
            XCTAssertEqual(ring.isFull, model.count == 4)
        }
        ring.removeAll()
        XCTAssertTrue(ring.isEmpty)
        XCTAssertNil(ring.free(through: .max))
    }

    func testReplicateWindowFillsThenAcksFreeIt() {
        var p = Progress(id: 2, next: 1, maxInflight: 3)
        p.becomeReplicate()
        for last: LogIndex in [1, 2, 3] {
            XCTAssertTrue(p.canSendAppend)
            p.sentAppend(last: last, now: 10)
        }
        XCTAssertFalse(p.canSendAppend, "the window of 3 is full")
        XCTAssertEqual(p.next, 4)
        XCTAssertTrue(p.acknowledge(2, now: 14))
        XCTAssertEqual(p.match, 2)
        XCTAssertEqual(p.inflight.count, 1)
        XCTAssertTrue(p.canSendAppend)
    }

    func testRejectionProbesFromTheClampedHintAndStaleOnesAreIgnored() {
        var p = Progress(id: 2, next: 1, maxInflight: 8)
        _ = p.acknowledge(5, now: 1)
        p.becomeReplicate()
        p.sentAppend(last: 9, now: 2)
        XCTAssertEqual(p.rejected(0, retryFrom: 1, lastIndex: 9), .stale, "index 0 always matches: a stale-term answer")
        XCTAssertEqual(p.state, .replicate)
        XCTAssertEqual(p.rejected(8, retryFrom: 100, lastIndex: 9), .retry)
        XCTAssertEqual(p.state, .probe)
        XCTAssertEqual(p.next, 8, "never past the rejected index or our log")
        p.sentAppend(last: 9, now: 3)
        XCTAssertEqual(p.rejected(6, retryFrom: 6, lastIndex: 9), .stale, "not the answer to the probe in flight")
        XCTAssertEqual(p.rejected(7, retryFrom: 1, lastIndex: 9), .retry)
        XCTAssertEqual(p.next, 6, "never below match + 1")
    }

    func testAReplicateRejectionAtOrBelowMatchChecksTheMatch() {
        var p = Progress(id: 2, next: 1, maxInflight: 8)
        _ = p.acknowledge(5, now: 1)
        p.becomeReplicate()
        p.sentAppend(last: 9, now: 2)
        XCTAssertEqual(p.rejected(4, retryFrom: 1, lastIndex: 9), .checkMatch, "a reordered answer or a lost disk (#9 §4)")
        XCTAssertEqual(p.state, .probe)
        XCTAssertEqual(p.next, 6, "probes at match")
    }

    func testLossIsSuspectedOnlyAfterTheRetransmitTimeout() {
        var p = Progress(id: 2, next: 1, maxInflight: 8)
        p.estimateRoundTrip(10)
        p.becomeReplicate()
        for k in 0..<5 { // steady round trips of 10 ticks
            p.sentAppend(last: LogIndex(k + 1), now: UInt64(100 + 10 * k))
            _ = p.acknowledge(LogIndex(k + 1), now: UInt64(110 + 10 * k))
        }
        p.sentAppend(last: 6, now: 200)
        let rto = p.roundTrip.retransmitTimeout(heartbeatTicks: 2, electionTicks: 40)
        XCTAssertGreaterThan(rto, 10, "the timeout exceeds the round trip")
        XCTAssertFalse(p.lossSuspected(now: 200 + 10, heartbeatTicks: 2, electionTicks: 40),
                       "an append out for one round trip is not lost, however many heartbeats that is")
        XCTAssertTrue(p.lossSuspected(now: 200 + UInt64(rto) + 1, heartbeatTicks: 2, electionTicks: 40))
        p.lossDetected()
        XCTAssertEqual(p.roundTrip.retransmitTimeout(heartbeatTicks: 2, electionTicks: 40), min(2 * rto, 40), "backs off")
    }

    func testDescriptionsNameTheStateForTraces() {
        var p = Progress(id: 3, next: 5, maxInflight: 4)
        p.becomeReplicate()
        p.sentAppend(last: 7, now: 12)
        XCTAssertTrue(p.description.contains("n3"), p.description)
        XCTAssertTrue(p.description.contains("replicate(inflight 1, oldest 7@t12)"), p.description)
        let node = RaftNode(config: RaftConfig(id: 1, voters: [1]), state: PersistentState(hardState: HardState(term: 2, commit: 1),
                            entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)]), seed: 1)
        XCTAssertTrue(node.log.description.contains("entries 1...2 (terms 1...2)"), node.log.description)
        XCTAssertTrue(node.log.description.contains("committed 1"), node.log.description)
    }
}
