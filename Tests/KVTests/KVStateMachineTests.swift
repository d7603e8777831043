import Codec
import Foundation
import KV
import Raft  // SeededRandom
import XCTest

/// The replicated state machine: commands, registered exactly-once sessions (dissertation
/// §6.3), snapshots, and decoding of untrusted bytes.
final class KVStateMachineTests: XCTestCase {
    /// A state machine plus the next log index, so tests read like a log.
    private struct Log {
        var sm: KVStateMachine
        var index: UInt64 = 0
        init(_ limits: SessionLimits = SessionLimits()) { sm = KVStateMachine(limits: limits) }

        mutating func register() -> UInt64 {
            index += 1
            guard case let .registered(id) = sm.apply(.register, at: index) else { preconditionFailure("registration failed") }
            return id
        }

        @discardableResult
        mutating func apply(_ client: UInt64, _ seq: UInt64, fua: UInt64? = nil, _ cmd: KVCommand) -> KVResult {
            index += 1
            return sm.apply(ClientRequest(clientID: client, sequence: seq, firstUnacknowledged: fua ?? seq, command: cmd), at: index)
        }
    }

    private func put(_ k: String, _ v: String) -> KVCommand { .put(key: Array(k.utf8), value: Array(v.utf8)) }
    private func get(_ k: String) -> KVCommand { .get(key: Array(k.utf8)) }
    private func del(_ k: String) -> KVCommand { .delete(key: Array(k.utf8)) }
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testPutGetDeleteApplyInLogOrder() {
        var log = Log()
        let c = log.register()
        XCTAssertEqual(c, 1, "the session id is the registration's log index")
        XCTAssertEqual(log.apply(c, 1, put("a", "1")), .stored(revision: 2))
        XCTAssertEqual(log.apply(c, 2, get("a")), .value(bytes("1")))
        XCTAssertEqual(log.apply(c, 3, del("a")), .deleted(count: 1))
        XCTAssertEqual(log.apply(c, 4, del("a")), .deleted(count: 0))
        XCTAssertEqual(log.apply(c, 5, get("a")), .value(nil))
        XCTAssertEqual(log.sm.appliedIndex, 6)
    }

    func testUnregisteredSessionIsExpiredAndNothingIsApplied() {
        var log = Log()
        XCTAssertEqual(log.apply(77, 1, put("k", "v")), .sessionExpired)
        XCTAssertNil(log.sm.value(for: bytes("k")))
        XCTAssertEqual(log.sm.sessionCount, 0, "a request never creates a session")
    }

    func testDuplicateRequestReturnsCachedResultAndAppliesOnce() {
        var log = Log()
        let x = log.register(), y = log.register()
        XCTAssertEqual(log.apply(x, 1, put("k", "first")), .stored(revision: 3))
        log.apply(y, 1, put("k", "other"))
        // A retry of x's put (same sequence, same command) must not overwrite y's value.
        XCTAssertEqual(log.apply(x, 1, put("k", "first")), .stored(revision: 3), "the cached result, not a new revision")
        XCTAssertEqual(log.sm.value(for: bytes("k")), bytes("other"))
    }

    func testRetryWithADifferentCommandIsRefusedAndChangesNothing() {
        var log = Log()
        let c = log.register()
        log.apply(c, 1, fua: 1, put("k", "v1"))
        let before = (log.sm.sessions, log.sm.data)
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("k", "v2")), .refused(.sequenceReused(sequence: 1)))
        XCTAssertEqual(log.apply(c, 1, fua: 1, get("k")), .refused(.sequenceReused(sequence: 1)))
        XCTAssertEqual(KVRefusal.sequenceReused(sequence: 1).description, "sequence 1 reused for a different command")
        XCTAssertEqual(log.sm.sessions, before.0, "the session table did not change")
        XCTAssertEqual(log.sm.data, before.1)
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("k", "v1")), .stored(revision: 2),
                       "the original command is still answered from the cache")
    }

    func testFloorAboveOwnSequenceIsRefusedAndDoesNotRaiseTheFloor() {
        var log = Log()
        let c = log.register()
        log.apply(c, 1, fua: 1, put("a", "1"))
        XCTAssertEqual(log.apply(c, 2, fua: 5, put("b", "2")), .refused(.floorAboveSequence(sequence: 2, firstUnacknowledged: 5)))
        XCTAssertNil(log.sm.value(for: bytes("b")), "refused: not applied")
        // The floor did not move: sequence 1's retry is still answered, and 3 and 4 still run.
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("a", "1")), .stored(revision: 2))
        XCTAssertEqual(log.apply(c, 3, fua: 1, put("c", "3")), .stored(revision: log.index))
        XCTAssertEqual(log.apply(c, 4, fua: 1, put("d", "4")), .stored(revision: log.index))
    }

    func testReadsAreNotCachedButRunAgainOnRetry() {
        var log = Log()
        let r = log.register(), w = log.register()
        XCTAssertEqual(log.apply(r, 1, fua: 1, get("k")), .value(nil))
        log.apply(w, 1, put("k", "v"))
        XCTAssertEqual(log.apply(r, 1, fua: 1, get("k")), .value(bytes("v")), "a retried read sees the current value")
        var withValue = Log()
        let r2 = withValue.register()
        withValue.apply(r2, 1, fua: 1, put("big", String(repeating: "x", count: 4096)))
        let reader = withValue.register()
        withValue.apply(reader, 1, fua: 1, get("big"))
        XCTAssertLessThan(withValue.sm.snapshotBytes().count, 2 * 4096, "the read's 4 KiB result is not stored in the snapshot")
        XCTAssertEqual(log.apply(r, 1, fua: 1, put("k", "x")), .refused(.sequenceReused(sequence: 1)), "the read's digest is kept")
    }

    func testPipelinedRequestsOutOfOrderAreEachAppliedOnce() {
        var log = Log()
        let c = log.register()
        // Sequences 2 and 3 commit before 1 (different proposals); then 1 and a retry of 2.
        log.apply(c, 2, fua: 1, put("x", "2"))
        log.apply(c, 3, fua: 1, put("y", "3"))
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("z", "1")), .stored(revision: 4), "an older sequence not yet seen is applied")
        XCTAssertEqual(log.apply(c, 2, fua: 1, put("x", "2")), .stored(revision: 2), "a retry inside the window is answered from the cache")
        XCTAssertEqual(log.sm.value(for: bytes("x")), bytes("2"))
    }

    func testAcknowledgedSequencesAreForgottenAndRefusedIfReplayed() {
        var log = Log()
        let c = log.register()
        log.apply(c, 1, put("a", "1"))
        log.apply(c, 2, put("a", "2"))  // fua 2: sequence 1 acknowledged
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("a", "1")), .sessionExpired, "never re-applied")
        XCTAssertEqual(log.sm.value(for: bytes("a")), bytes("2"))
    }

    func testResultCacheIsBoundedPerSession() {
        var log = Log(SessionLimits(maxSessions: 10, maxResultsPerSession: 4))
        let c = log.register()
        for s in UInt64(1)...6 { log.apply(c, s, fua: 1, put("k\(s)", "v")) }
        // The two oldest were forgotten: their retries are refused, not applied again.
        XCTAssertEqual(log.apply(c, 1, fua: 1, put("k1", "again")), .sessionExpired)
        XCTAssertEqual(log.apply(c, 6, fua: 1, put("k6", "v")), .stored(revision: 7))
        XCTAssertEqual(log.sm.value(for: bytes("k1")), bytes("v"))
    }

    /// The issue #15 reproduction at the state-machine level: X's put, Y's put, enough
    /// registrations to evict X, then X's retry must be expired, never applied.
    func testEvictedSessionsRetryIsExpiredNotApplied() {
        var log = Log(SessionLimits(maxSessions: 4))
        let x = log.register(), y = log.register()
        XCTAssertEqual(log.apply(x, 1, put("dup", "1")), .stored(revision: 3))
        XCTAssertEqual(log.apply(y, 1, put("dup", "2")), .stored(revision: 4))
        for _ in 0..<10 { _ = log.register() }
        XCTAssertFalse(log.sm.sessions.isRegistered(x), "x was least recently used")
        XCTAssertEqual(log.apply(x, 1, put("dup", "1")), .sessionExpired)
        XCTAssertEqual(log.sm.value(for: bytes("dup")), bytes("2"), "y's acknowledged write is not lost")
    }

    func testSessionsAreEvictedLeastRecentlyUsedAtTheSameIndexEverywhere() {
        let limits = SessionLimits(maxSessions: 10)
        var a = Log(limits), b = Log(limits)
        var ids: [UInt64] = []
        for i in 1...25 {
            let id = a.register()
            XCTAssertEqual(b.register(), id)
            ids.append(id)
            XCTAssertEqual(a.apply(ids[i / 2], 1, put("k", "\(i)")), b.apply(ids[i / 2], 1, put("k", "\(i)")))
        }
        XCTAssertLessThanOrEqual(a.sm.sessionCount, 10)
        XCTAssertEqual(a.sm.snapshotBytes(), b.sm.snapshotBytes(), "eviction is decided by the log alone")
        XCTAssertTrue(a.sm.sessions.isRegistered(ids.last!), "the newest session is kept")
    }

    func testSnapshotRoundTripRestoresDataAndSessions() throws {
        var log = Log()
        let ids = (0..<7).map { _ in log.register() }
        for i in UInt64(1)...50 { log.apply(ids[Int(i % 7)], i, fua: 1, put("key\(i % 13)", String(repeating: "v", count: Int(i)))) }
        log.apply(ids[0], 51, fua: 1, get("key1"))
        let bytes = log.sm.snapshotBytes()
        var restored = try KVStateMachine(snapshot: bytes)
        XCTAssertEqual(restored.data, log.sm.data)
        XCTAssertEqual(restored.appliedIndex, log.index)
        XCTAssertEqual(restored.snapshotBytes(), bytes, "deterministic encoding")
        XCTAssertEqual(restored.sessions, log.sm.sessions)
        // Session state survived: a duplicate is still answered from the cache, a mismatch refused.
        let dup = ClientRequest(clientID: ids[49 % 7], sequence: 49, firstUnacknowledged: 1, command: put("key10", String(repeating: "v", count: 49)))
        XCTAssertEqual(restored.apply(dup, at: log.index + 1), log.sm.apply(dup, at: log.index + 1))
        var other = dup
        other.command = put("key10", "x")
        XCTAssertEqual(restored.apply(other, at: log.index + 2), .refused(.sequenceReused(sequence: 49)))
    }

    func testCorruptSnapshotIsRefusedWithATypedError() {
        var log = Log()
        let c = log.register()
        log.apply(c, 1, put("a", "b"))
        var bytes = log.sm.snapshotBytes()
        bytes[bytes.count / 2] ^= 0x40
        XCTAssertFalse(KVStateMachine.snapshotChecksumValid(bytes))
        XCTAssertThrowsError(try KVStateMachine(snapshot: bytes))
        XCTAssertThrowsError(try KVStateMachine(snapshot: []))
    }

    func testRandomBytesNeverCrashTheDecoders() {
        let seed = ProcessInfo.processInfo.environment["RAFTKV_TEST_SEED"].flatMap { UInt64($0) } ?? 0x1234_5678
        var rng = SeededRandom(seed: seed)
        var decoded = 0
        for _ in 0..<5000 {
            let bytes = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if (try? LogCommand.decode(bytes)) != nil { decoded += 1 }
            _ = try? ClientRequest.decode(bytes)
            _ = try? KVStateMachine(snapshot: bytes)
            var r = ByteReader(bytes)
            _ = try? KVResult.decode(from: &r)
        }
        // Reaching here without a trap is the point; a few random inputs are valid commands.
        XCTAssertLessThan(decoded, 5000, "seed \(seed): random bytes should mostly be refused")
    }

    func testCommandEncodingRoundTripsAndRejectsZeroIDs() throws {
        let r = ClientRequest(clientID: 42, sequence: 7, firstUnacknowledged: 3, command: put("k", "v"))
        XCTAssertEqual(try ClientRequest.decode(r.encoded()), r)
        XCTAssertEqual(try LogCommand.decode(LogCommand.request(r).encoded()), .request(r))
        XCTAssertEqual(try LogCommand.decode(LogCommand.register.encoded()), .register)
        let zero = ClientRequest(clientID: 0, sequence: 1, firstUnacknowledged: 1, command: put("k", "v"))
        XCTAssertThrowsError(try ClientRequest.decode(zero.encoded()))
        XCTAssertThrowsError(try ClientRequest.decode(r.encoded() + [0]), "trailing bytes are refused")
        XCTAssertThrowsError(try LogCommand.decode([9]), "unknown log command tag")
    }

    func testResultEncodingRoundTrips() throws {
        let all: [KVResult] = [.stored(revision: 9), .value(nil), .value([1, 2]), .deleted(count: 1), .sessionExpired,
                               .registered(clientID: 12), .refused(.sequenceReused(sequence: 3)),
                               .refused(.floorAboveSequence(sequence: 2, firstUnacknowledged: 5))]
        for result in all {
            var w = ByteWriter()
            result.encode(into: &w)
            var r = ByteReader(w.bytes)
            XCTAssertEqual(try KVResult.decode(from: &r), result)
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testDigestSeparatesCommandsThatShareAKey() {
        let cmds: [KVCommand] = [put("k", "v"), put("k", "w"), put("k", ""), get("k"), del("k"), put("kv", ""), get("kv")]
        XCTAssertEqual(Set(cmds.map { CommandDigest($0) }).count, cmds.count)
        XCTAssertEqual(CommandDigest(put("k", "v")), CommandDigest(put("k", "v")))
    }
}
