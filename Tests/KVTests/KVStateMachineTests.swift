import Codec
import KV
import XCTest

/// The replicated state machine: commands, exactly-once sessions (dissertation §6.3),
/// snapshots, and decoding of untrusted bytes.
final class KVStateMachineTests: XCTestCase {
    private func req(_ client: UInt64, _ seq: UInt64, fua: UInt64? = nil, _ cmd: KVCommand) -> ClientRequest {
        ClientRequest(clientID: client, sequence: seq, firstUnacknowledged: fua ?? seq, command: cmd)
    }
    private func put(_ k: String, _ v: String) -> KVCommand { .put(key: Array(k.utf8), value: Array(v.utf8)) }
    private func get(_ k: String) -> KVCommand { .get(key: Array(k.utf8)) }
    private func del(_ k: String) -> KVCommand { .delete(key: Array(k.utf8)) }

    func testPutGetDeleteApplyInLogOrder() {
        var sm = KVStateMachine()
        XCTAssertEqual(sm.apply(req(1, 1, put("a", "1")), at: 1), .stored(revision: 1))
        XCTAssertEqual(sm.apply(req(1, 2, get("a")), at: 2), .value(Array("1".utf8)))
        XCTAssertEqual(sm.apply(req(1, 3, del("a")), at: 3), .deleted(count: 1))
        XCTAssertEqual(sm.apply(req(1, 4, del("a")), at: 4), .deleted(count: 0))
        XCTAssertEqual(sm.apply(req(1, 5, get("a")), at: 5), .value(nil))
        XCTAssertEqual(sm.appliedIndex, 5)
    }

    func testDuplicateRequestReturnsCachedResultAndAppliesOnce() {
        var sm = KVStateMachine()
        XCTAssertEqual(sm.apply(req(7, 1, put("k", "first")), at: 1), .stored(revision: 1))
        _ = sm.apply(req(8, 1, put("k", "other")), at: 2)
        // A retry of client 7's put (same sequence) must not overwrite client 8's value.
        XCTAssertEqual(sm.apply(req(7, 1, put("k", "first")), at: 3), .stored(revision: 1), "the cached result, not a new revision")
        XCTAssertEqual(sm.value(for: Array("k".utf8)), Array("other".utf8))
    }

    func testPipelinedRequestsOutOfOrderAreEachAppliedOnce() {
        var sm = KVStateMachine()
        // Sequences 2 and 3 commit before 1 (different proposals); then 1 and a retry of 2.
        _ = sm.apply(req(5, 2, fua: 1, put("x", "2")), at: 1)
        _ = sm.apply(req(5, 3, fua: 1, put("y", "3")), at: 2)
        XCTAssertEqual(sm.apply(req(5, 1, fua: 1, put("z", "1")), at: 3), .stored(revision: 3), "an older sequence not yet seen is applied")
        XCTAssertEqual(sm.apply(req(5, 2, fua: 1, put("x", "again")), at: 4), .stored(revision: 1), "a retry inside the window is answered from the cache")
        XCTAssertEqual(sm.value(for: Array("x".utf8)), Array("2".utf8))
    }

    func testAcknowledgedSequencesAreForgottenAndRefusedIfReplayed() {
        var sm = KVStateMachine()
        _ = sm.apply(req(9, 1, put("a", "1")), at: 1)
        _ = sm.apply(req(9, 2, put("a", "2")), at: 2)  // fua 2: sequence 1 acknowledged
        XCTAssertEqual(sm.apply(req(9, 1, fua: 1, put("a", "1")), at: 3), .sessionExpired, "never re-applied")
        XCTAssertEqual(sm.value(for: Array("a".utf8)), Array("2".utf8))
    }

    func testResultCacheIsBoundedPerSession() {
        var limits = KVStateMachine.Limits()
        limits.maxResultsPerSession = 4
        var sm = KVStateMachine(limits: limits)
        for s in UInt64(1)...6 { _ = sm.apply(req(3, s, fua: 1, put("k\(s)", "v")), at: s) }
        // The two oldest results were evicted: their retries are refused, not applied again.
        XCTAssertEqual(sm.apply(req(3, 1, fua: 1, put("k1", "again")), at: 7), .sessionExpired)
        XCTAssertEqual(sm.apply(req(3, 6, fua: 1, put("k6", "again")), at: 8), .stored(revision: 6))
        XCTAssertEqual(sm.value(for: Array("k1".utf8)), Array("v".utf8))
    }

    func testSessionsAreEvictedLeastRecentlyUsedAtTheSameIndexEverywhere() {
        var limits = KVStateMachine.Limits()
        limits.maxSessions = 10
        var a = KVStateMachine(limits: limits), b = KVStateMachine(limits: limits)
        for i in UInt64(1)...25 {
            let r = req(i, 1, put("k", "\(i)"))
            XCTAssertEqual(a.apply(r, at: i), b.apply(r, at: i))
        }
        XCTAssertLessThanOrEqual(a.sessionCount, 10)
        XCTAssertEqual(a.snapshotBytes(), b.snapshotBytes(), "eviction is decided by the log alone")
    }

    func testSnapshotRoundTripRestoresDataAndSessions() throws {
        var sm = KVStateMachine()
        for i in UInt64(1)...50 { _ = sm.apply(req(i % 7 + 1, i, fua: 1, put("key\(i % 13)", String(repeating: "v", count: Int(i)))), at: i) }
        let bytes = sm.snapshotBytes()
        var restored = try KVStateMachine(snapshot: bytes)
        XCTAssertEqual(restored.data, sm.data)
        XCTAssertEqual(restored.appliedIndex, 50)
        XCTAssertEqual(restored.snapshotBytes(), bytes, "deterministic encoding")
        // Session state survived: a duplicate is still answered from the cache.
        XCTAssertEqual(restored.apply(req(8, 49, fua: 1, put("key10", "x")), at: 51), sm.apply(req(8, 49, fua: 1, put("key10", "x")), at: 51))
    }

    func testCorruptSnapshotIsRefusedWithATypedError() {
        var sm = KVStateMachine()
        _ = sm.apply(req(1, 1, put("a", "b")), at: 1)
        var bytes = sm.snapshotBytes()
        bytes[bytes.count / 2] ^= 0x40
        XCTAssertFalse(KVStateMachine.snapshotChecksumValid(bytes))
        XCTAssertThrowsError(try KVStateMachine(snapshot: bytes))
        XCTAssertThrowsError(try KVStateMachine(snapshot: []))
    }

    func testRandomBytesNeverCrashTheDecoders() {
        var x: UInt64 = 0x1234_5678
        for _ in 0..<5000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(x >> 58)
            var bytes: [UInt8] = []
            for _ in 0..<n {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: x >> 40))
            }
            _ = try? ClientRequest.decode(bytes)
            _ = try? KVStateMachine(snapshot: bytes)
            var r = ByteReader(bytes)
            _ = try? KVResult.decode(from: &r)
        }
    }

    func testCommandEncodingRoundTripsAndRejectsZeroIDs() throws {
        let r = req(42, 7, fua: 3, put("k", "v"))
        XCTAssertEqual(try ClientRequest.decode(r.encoded()), r)
        XCTAssertThrowsError(try ClientRequest.decode(req(0, 1, put("k", "v")).encoded()))
        XCTAssertThrowsError(try ClientRequest.decode(r.encoded() + [0]), "trailing bytes are refused")
    }
}
