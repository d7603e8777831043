import Raft
import XCTest

@testable import Linearizability

/// Builds histories tersely: keys and values are strings, `nil` return means unknown.
private struct History {
    var ops: [HistoryOperation] = []

    mutating func add(_ kind: KVOperationKind, _ call: UInt64, _ ret: UInt64?, _ outcome: KVOperationOutcome, client: UInt64) {
        ops.append(HistoryOperation(
            id: ops.count, client: client, kind: kind, call: call, returned: ret,
            outcome: ret == nil ? .unknown : outcome))
    }

    mutating func put(_ key: String, _ value: String, _ call: UInt64, _ ret: UInt64?, client: UInt64 = 0) {
        add(.put(key: Array(key.utf8), value: Array(value.utf8)), call, ret, .ok, client: client)
    }

    mutating func get(_ key: String, _ value: String?, _ call: UInt64, _ ret: UInt64?, client: UInt64 = 0) {
        add(.get(key: Array(key.utf8)), call, ret, .value(value.map { Array($0.utf8) }), client: client)
    }

    mutating func delete(_ key: String, _ count: Int, _ call: UInt64, _ ret: UInt64?, client: UInt64 = 0) {
        add(.delete(key: Array(key.utf8)), call, ret, .deleted(count), client: client)
    }

    func check(maxSteps: Int = 100_000) -> LinearizabilityResult {
        LinearizabilityChecker.check(ops, limits: LinearizabilityLimits(maxStepsPerKey: maxSteps))
    }
}

private func assertLinearizable(_ h: History, file: StaticString = #filePath, line: UInt = #line) {
    let result = h.check()
    guard case .linearizable = result else {
        return XCTFail("expected linearizable, got \(result)", file: file, line: line)
    }
}

/// Returns the explanation so that tests can check what it blames.
@discardableResult
private func assertNotLinearizable(
    _ h: History, key: String = "k", file: StaticString = #filePath, line: UInt = #line
) -> LinearizabilityViolation? {
    let result = h.check()
    guard case let .notLinearizable(badKey, explanation) = result else {
        XCTFail("expected not linearizable, got \(result)", file: file, line: line)
        return nil
    }
    XCTAssertEqual(badKey, Array(key.utf8), file: file, line: line)
    return explanation
}

final class LinearizabilityTests: XCTestCase {
    // MARK: Known-good histories

    func testEmptyHistoryIsLinearizable() {
        assertLinearizable(History())
    }

    func testSequentialHistoryIsLinearizable() {
        var h = History()
        h.get("k", nil, 0, 1)
        h.put("k", "a", 2, 3)
        h.get("k", "a", 4, 5)
        h.put("k", "b", 6, 7)
        h.get("k", "b", 8, 9)
        h.delete("k", 1, 10, 11)
        h.get("k", nil, 12, 13)
        h.delete("k", 0, 14, 15)
        assertLinearizable(h)
    }

    func testConcurrentWritesMayTakeEffectInEitherOrder() {
        for winner in ["a", "b"] {
            var h = History()
            h.put("k", "a", 0, 10, client: 1)
            h.put("k", "b", 0, 10, client: 2)
            h.get("k", winner, 20, 30)
            h.get("k", winner, 40, 50)
            assertLinearizable(h)
        }
    }

    func testConcurrentWritesCannotBeSeenInBothOrdersAfterTheyComplete() {
        var h = History()
        h.put("k", "a", 0, 10, client: 1)
        h.put("k", "b", 0, 10, client: 2)
        h.get("k", "a", 20, 30)
        h.get("k", "b", 40, 50)
        assertNotLinearizable(h)
    }

    func testReadsConcurrentWithAWriteMaySeeOldThenNewValue() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, 40, client: 1)
        h.get("k", "a", 12, 18, client: 2)
        h.get("k", "b", 20, 25, client: 2)
        h.get("k", "b", 30, 35, client: 3)
        assertLinearizable(h)
    }

    func testReadsConcurrentWithAWriteCannotSeeNewThenOldValue() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, 40, client: 1)
        h.get("k", "b", 12, 18, client: 2)
        h.get("k", "a", 20, 25, client: 2)
        assertNotLinearizable(h)
    }

    func testOperationsTouchingAtOneInstantCountAsConcurrent() {
        var h = History()
        h.put("k", "a", 0, 10, client: 1)
        h.get("k", nil, 10, 20, client: 2)
        assertLinearizable(h)
    }

    func testUnknownPutThatTookEffectExplainsLaterRead() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, nil, client: 1)
        h.get("k", "b", 20, 30, client: 2)
        assertLinearizable(h)
    }

    func testUnknownPutThatNeverTookEffectIsAllowed() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, nil, client: 1)
        h.get("k", "a", 20, 30, client: 2)
        h.get("k", "a", 40, 50, client: 2)
        assertLinearizable(h)
    }

    func testUnknownPutMayTakeEffectLongAfterItsCall() {
        var h = History()
        h.put("k", "b", 0, nil, client: 1)
        h.get("k", nil, 10, 20, client: 2)
        h.put("k", "a", 30, 40, client: 2)
        h.get("k", "b", 50, 60, client: 2)
        assertLinearizable(h)
    }

    func testUnknownPutCannotTakeEffectBeforeItsCall() {
        var h = History()
        h.get("k", "b", 0, 5, client: 2)
        h.put("k", "b", 10, nil, client: 1)
        assertNotLinearizable(h)
    }

    func testUnknownPutTakesEffectAtMostOnce() {
        var h = History()
        h.put("k", "b", 0, nil, client: 1)
        h.get("k", "b", 10, 20, client: 2)
        h.put("k", "a", 30, 40, client: 2)
        h.get("k", "b", 50, 60, client: 2)
        assertNotLinearizable(h)
    }

    func testUnknownDeleteMayOrMayNotTakeEffect() {
        for seen in ["a", nil] as [String?] {
            var h = History()
            h.put("k", "a", 0, 5)
            h.delete("k", 1, 10, nil, client: 1)
            h.get("k", seen, 20, 30, client: 2)
            assertLinearizable(h)
        }
    }

    func testUnknownPutIsKeptWhenOnlyADeleteCountRevealsIt() {
        var h = History()
        h.put("k", "b", 0, nil, client: 1)
        h.delete("k", 1, 10, 20, client: 2)
        assertLinearizable(h)
    }

    func testUnknownDeleteIsKeptWhenOnlyADeleteCountRevealsIt() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.delete("k", 1, 10, nil, client: 1)
        h.delete("k", 0, 20, 30, client: 2)
        assertLinearizable(h)
    }

    func testManyIrrelevantUnknownWritesStayCheap() {
        // A partition that times out many writes nobody reads must not make the search
        // try every subset of them.
        var h = History()
        h.put("k", "a", 0, 5)
        for i in 0..<40 { h.put("k", "lost\(i)", 10, nil, client: UInt64(i + 1)) }
        for i in 0..<10 { h.delete("k", 0, 10, nil, client: UInt64(i + 100)) }
        h.get("k", "a", 20, 30)
        XCTAssertEqual(h.check(maxSteps: 1_000), .linearizable)
    }

    func testUnknownGetImposesNothing() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.add(.get(key: Array("k".utf8)), 10, nil, .unknown, client: 1)
        h.get("k", "a", 20, 30)
        assertLinearizable(h)
    }

    func testKeysAreIndependentRegisters() {
        var h = History()
        h.put("x", "a", 0, 5)
        h.get("y", nil, 10, 15)
        h.get("x", "a", 10, 15)
        assertLinearizable(h)
    }

    // MARK: Known-bad histories

    func testStaleReadAfterCompletedWriteIsRejected() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, 15)
        h.get("k", "a", 20, 25, client: 1)
        let explanation = assertNotLinearizable(h)
        XCTAssertEqual(explanation?.linearizedPrefix.map(\.id), [0, 1])
        XCTAssertEqual(explanation?.valueAfterPrefix, Array("b".utf8))
        XCTAssertEqual(explanation?.unplaced.map(\.operation.id), [2])
        XCTAssertEqual(explanation?.unplaced.first?.reason,
                       "must take effect by its return at 25; read \"a\" but the register held \"b\"")
    }

    func testLostAcknowledgedWriteIsRejected() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.get("k", nil, 10, 15, client: 1)
        assertNotLinearizable(h)
    }

    func testLostAcknowledgedOverwriteIsRejected() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.put("k", "b", 10, 15, client: 1)
        h.get("k", "b", 20, 25, client: 2)
        h.get("k", "a", 30, 35, client: 2)
        assertNotLinearizable(h)
    }

    func testReadOfValueNeverWrittenIsRejected() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.get("k", "z", 10, 15, client: 1)
        let explanation = assertNotLinearizable(h)
        XCTAssertEqual(explanation?.unplaced.first?.reason,
                       "must take effect by its return at 15; read \"z\" but the register held \"a\"")
    }

    func testWriteAppliedTwiceIsRejected() {
        // "a" reappears after "b" was read, yet the only put of "a" finished before the
        // put of "b" began: only re-applying the first put (a duplicated log entry, a retry
        // executed twice) could produce the last read.
        var h = History()
        h.put("k", "a", 0, 10, client: 1)
        h.put("k", "b", 20, 30, client: 2)
        h.get("k", "b", 40, 50, client: 3)
        h.get("k", "a", 60, 70, client: 3)
        let explanation = assertNotLinearizable(h)
        XCTAssertEqual(explanation?.linearizedPrefix.map(\.id), [0, 1, 2])
        XCTAssertEqual(explanation?.unplaced.map(\.operation.id), [3])
    }

    func testDeleteReportingNothingWhilePresentIsRejected() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.delete("k", 0, 10, 15, client: 1)
        let explanation = assertNotLinearizable(h)
        XCTAssertEqual(explanation?.unplaced.first?.reason,
                       "must take effect by its return at 15; reported 0 deleted but the register held \"a\"")
    }

    func testDeleteReportingAKeyThatWasAbsentIsRejected() {
        var h = History()
        h.delete("k", 1, 0, 5)
        assertNotLinearizable(h)
    }

    func testConcurrentDeletesCannotBothRemoveTheKey() {
        var h = History()
        h.put("k", "a", 0, 5)
        h.delete("k", 1, 10, 20, client: 1)
        h.delete("k", 1, 10, 20, client: 2)
        assertNotLinearizable(h)

        var ok = History()
        ok.put("k", "a", 0, 5)
        ok.delete("k", 1, 10, 20, client: 1)
        ok.delete("k", 0, 10, 20, client: 2)
        assertLinearizable(ok)
    }

    func testViolationIsReportedForTheKeyWhereItHappens() {
        var h = History()
        h.put("good", "a", 0, 5)
        h.get("good", "a", 10, 15)
        h.put("bad", "a", 0, 5)
        h.get("bad", nil, 10, 15)
        assertNotLinearizable(h, key: "bad")
    }

    // MARK: Budget

    /// Overlapping puts followed by a read of a value none of them wrote: the search must
    /// rule out every subset of the puts before it can say no (about 2^n * n steps).
    private func pathologicalHistory(key: String, puts: Int = 20) -> History {
        var h = History()
        for i in 0..<puts { h.put(key, "v\(i)", 0, 100, client: UInt64(i)) }
        h.get(key, "never", 200, 300, client: 99)
        return h
    }

    func testExhaustedBudgetGivesUnknown() {
        let h = pathologicalHistory(key: "k", puts: 10)
        let result = h.check(maxSteps: 1_000)
        guard case let .unknown(reason) = result else { return XCTFail("expected unknown, got \(result)") }
        XCTAssertTrue(reason.contains("\"k\""), reason)
        // The same history with room to finish gets a verdict: the unknown was the budget.
        guard case .notLinearizable = h.check(maxSteps: 1_000_000) else { return XCTFail("expected a violation") }
    }

    func testViolationOnOneKeyIsReportedEvenWhenAnotherExhaustsTheBudget() {
        var h = pathologicalHistory(key: "a")
        h.put("b", "x", 0, 5)
        h.get("b", "y", 10, 15)
        let result = h.check(maxSteps: 1_000)
        guard case let .notLinearizable(key, _) = result else { return XCTFail("expected a violation, got \(result)") }
        XCTAssertEqual(key, Array("b".utf8))
    }

    // MARK: Explanation

    func testExplanationDescribesPrefixAndUnplacedOperations() {
        var h = History()
        h.put("k", "a", 0, 5, client: 7)
        h.get("k", "b", 10, 15, client: 8)
        guard case let .notLinearizable(_, explanation) = h.check() else { return XCTFail("expected a violation") }
        XCTAssertEqual(explanation.description, """
            not linearizable: key "k", 2 operation(s) checked
            longest linearizable prefix: 1 operation(s)
              #0 client 7 put "a" -> ok [0, 5]
            register after that prefix: "a"
            operations that could not be placed next:
              #1 client 8 get -> "b" [10, 15]: must take effect by its return at 15; read "b" but the register held "a"
            """)
    }

    func testBinaryValuesAreShownInHex() {
        XCTAssertEqual(ByteFormatting.describe([0x00, 0xff] as [UInt8]), "0x00ff")
        XCTAssertEqual(ByteFormatting.describe(nil as [UInt8]?), "absent")
    }

    // MARK: Recorder

    func testRecorderRecordsCompletedAbandonedAndInFlightOperations() {
        var recorder = HistoryRecorder()
        let put = recorder.invoke(client: 1, kind: .put(key: [1], value: [2]), at: 10)
        let get = recorder.invoke(client: 2, kind: .get(key: [1]), at: 11)
        let delete = recorder.invoke(client: 3, kind: .delete(key: [1]), at: 12)
        recorder.complete(id: put, outcome: .ok, at: 20)
        recorder.giveUp(id: get)
        XCTAssertEqual(recorder.pendingCount, 1)

        let ops = recorder.operations
        XCTAssertEqual(ops.map(\.id), [put, get, delete])
        XCTAssertEqual(ops[put].returned, 20)
        XCTAssertEqual(ops[put].outcome, .ok)
        XCTAssertNil(ops[get].returned)
        XCTAssertEqual(ops[get].outcome, .unknown)
        XCTAssertEqual(ops[delete].outcome, .unknown)
        XCTAssertEqual(LinearizabilityChecker.check(ops), .linearizable)
    }

    // MARK: Randomized

    func testRandomHistoriesFromARealMapAreLinearizable() {
        for seed in 0..<100 as Range<UInt64> {
            var rng = SeededRandom(seed: seed)
            let ops = RandomHistory.generate(using: &rng, operations: 300, unknownRate: 0.1)
            let result = LinearizabilityChecker.check(ops)
            XCTAssertEqual(result, .linearizable, "seed \(seed)")
        }
    }

    func testReadOfUnwrittenValueInRandomHistoryIsRejected() {
        for seed in 0..<50 as Range<UInt64> {
            var rng = SeededRandom(seed: seed)
            var ops = RandomHistory.generate(using: &rng, operations: 300, unknownRate: 0.1)
            let reads = ops.indices.filter { if case .value = ops[$0].outcome { return true } else { return false } }
            let victim = reads[Int(rng.below(UInt64(reads.count)))]
            ops[victim].outcome = .value(Array("never written".utf8))
            guard case let .notLinearizable(key, _) = LinearizabilityChecker.check(ops) else {
                return XCTFail("seed \(seed): corrupted read #\(victim) was accepted")
            }
            XCTAssertEqual(key, ops[victim].kind.key, "seed \(seed)")
        }
    }

    func testStaleReadAppendedToRandomHistoryIsRejected() {
        // No unknown puts, so after the fresh put completes nothing else can be in the
        // register when the read starts: reading the older value is guaranteed stale.
        for seed in 0..<50 as Range<UInt64> {
            var rng = SeededRandom(seed: seed)
            var ops = RandomHistory.generate(using: &rng, operations: 300, unknownRate: 0)
            let end = ops.compactMap(\.returned).max()! + 1
            let key = RandomHistory.keys[0]
            ops.append(HistoryOperation(id: ops.count, client: 1000, kind: .put(key: key, value: [1]),
                                        call: end, returned: end + 1, outcome: .ok))
            ops.append(HistoryOperation(id: ops.count, client: 1000, kind: .put(key: key, value: [2]),
                                        call: end + 2, returned: end + 3, outcome: .ok))
            ops.append(HistoryOperation(id: ops.count, client: 1001, kind: .get(key: key),
                                        call: end + 4, returned: end + 5, outcome: .value([1])))
            guard case let .notLinearizable(badKey, explanation) = LinearizabilityChecker.check(ops) else {
                return XCTFail("seed \(seed): stale read was accepted")
            }
            XCTAssertEqual(badKey, key)
            XCTAssertEqual(explanation.unplaced.map(\.operation.id), [ops.count - 1], "seed \(seed)")
        }
    }

    func testSubtlyCorruptedReadsAreUsuallyRejected() {
        // Swap a read's result for another value written to the same key: sometimes that
        // is still explainable, but most such corruptions must be caught.
        var rejected = 0
        let trials = 100
        for seed in 0..<UInt64(trials) {
            var rng = SeededRandom(seed: seed)
            var ops = RandomHistory.generate(using: &rng, operations: 200, unknownRate: 0.05)
            let reads = ops.indices.filter { if case .value = ops[$0].outcome { return true } else { return false } }
            let victim = reads[Int(rng.below(UInt64(reads.count)))]
            let written = Set(ops.compactMap { op -> [UInt8]? in
                if case let .put(key, value) = op.kind, key == ops[victim].kind.key { return value }
                return nil
            })
            let alternatives = ([nil] + written.sorted { $0.lexicographicallyPrecedes($1) }.map { Optional($0) })
                .filter { .value($0) != ops[victim].outcome }
            ops[victim].outcome = .value(alternatives[Int(rng.below(UInt64(alternatives.count)))])
            if case .notLinearizable = LinearizabilityChecker.check(ops) { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, trials / 2, "only \(rejected) of \(trials) corruptions caught")
    }

    func testSmallRandomHistoriesAgreeWithBruteForce() {
        // Arbitrary outcomes, most of them impossible, on tiny histories where trying every
        // order is feasible: the search's pruning must never change the verdict.
        var rng = SeededRandom(seed: 1)
        var verdicts = (yes: 0, no: 0)
        for round in 0..<3_000 {
            let ops = BruteForce.randomHistory(using: &rng)
            let expected = BruteForce.isLinearizable(ops)
            let result = LinearizabilityChecker.check(ops)
            switch result {
            case .linearizable: XCTAssertTrue(expected, "round \(round): \(ops)")
            case .notLinearizable: XCTAssertFalse(expected, "round \(round): \(ops)")
            case .unknown: XCTFail("round \(round): budget exhausted on a tiny history")
            }
            if expected { verdicts.yes += 1 } else { verdicts.no += 1 }
        }
        // Both verdicts must be well represented, or the comparison proves little.
        XCTAssertGreaterThan(verdicts.yes, 500)
        XCTAssertGreaterThan(verdicts.no, 500)
    }

    func testHotKeyWithManyClientsAndTimeoutsChecksQuickly() {
        var rng = SeededRandom(seed: 7)
        let ops = RandomHistory.generate(
            using: &rng, operations: 5_000, unknownRate: 0.1, clients: 20, keyCount: 1)
        let start = ContinuousClock.now
        XCTAssertEqual(LinearizabilityChecker.check(ops), .linearizable)
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, .seconds(10), "checking took \(elapsed)")
    }

    func testThousandsOfOperationsAcrossManyKeysCheckQuickly() {
        var rng = SeededRandom(seed: 42)
        let ops = RandomHistory.generate(
            using: &rng, operations: 5_000, unknownRate: 0.05, clients: 10, keyCount: 20)
        let start = ContinuousClock.now
        XCTAssertEqual(LinearizabilityChecker.check(ops), .linearizable)
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, .seconds(10), "checking took \(elapsed)")
    }
}

/// Histories that are linearizable by construction: each operation gets a linearization
/// point inside [call, return], and results come from applying operations to a real
/// dictionary in the order of those points.
private enum RandomHistory {
    static let keys: [[UInt8]] = (0..<100).map { Array("key\($0)".utf8) }

    static func generate(
        using rng: inout SeededRandom, operations: Int, unknownRate: Double,
        clients: Int = 5, keyCount: Int = 3
    ) -> [HistoryOperation] {
        struct Planned { var op: HistoryOperation; var point: UInt64; var takesEffect: Bool }
        var planned: [Planned] = []
        var clientFree = Array(repeating: UInt64(0), count: clients)
        var nextValue = 0
        for id in 0..<operations {
            // Clients are sequential, as real ones are; overlap comes from other clients.
            let client = Int(rng.below(UInt64(clients)))
            let call = clientFree[client] + rng.below(10)
            let point = call + rng.below(20)
            let ret = point + rng.below(20)
            let key = keys[Int(rng.below(UInt64(keyCount)))]
            let kind: KVOperationKind
            switch rng.below(10) {
            case 0..<4:
                // Some repeated values, so that interning and equal writes are exercised.
                nextValue += 1
                let value = rng.chance(0.2) ? Array("dup".utf8) : Array("v\(nextValue)".utf8)
                kind = .put(key: key, value: value)
            case 4..<9: kind = .get(key: key)
            default: kind = .delete(key: key)
            }
            let unknown = rng.chance(unknownRate)
            clientFree[client] = ret + 1
            planned.append(Planned(
                op: HistoryOperation(id: id, client: UInt64(client), kind: kind, call: call,
                                     returned: unknown ? nil : ret, outcome: .unknown),
                point: point, takesEffect: !unknown || rng.chance(0.5)))
        }

        var map: [[UInt8]: [UInt8]] = [:]
        for i in planned.indices.sorted(by: { (planned[$0].point, $0) < (planned[$1].point, $1) })
        where planned[i].takesEffect {
            let outcome: KVOperationOutcome
            switch planned[i].op.kind {
            case let .put(key, value): map[key] = value; outcome = .ok
            case let .get(key): outcome = .value(map[key])
            case let .delete(key): outcome = .deleted(map.removeValue(forKey: key) == nil ? 0 : 1)
            }
            if planned[i].op.returned != nil { planned[i].op.outcome = outcome }
        }
        return planned.map(\.op)
    }
}

/// An independent oracle for small histories: tries every order (and every subset of the
/// unknown-outcome operations) that respects real time, against a plain dictionary-free
/// register.
private enum BruteForce {
    static func randomHistory(using rng: inout SeededRandom) -> [HistoryOperation] {
        let values: [[UInt8]] = [[1], [2]]
        return (0..<(1 + Int(rng.below(7)))).map { id in
            let call = rng.below(10)
            let returned: UInt64? = rng.chance(0.2) ? nil : call + rng.below(6)
            let kind: KVOperationKind
            let outcome: KVOperationOutcome
            switch rng.below(3) {
            case 0:
                kind = .put(key: [0], value: values[Int(rng.below(2))])
                outcome = .ok
            case 1:
                kind = .get(key: [0])
                outcome = .value(rng.chance(0.3) ? nil : values[Int(rng.below(2))])
            default:
                kind = .delete(key: [0])
                outcome = .deleted(Int(rng.below(2)))
            }
            return HistoryOperation(id: id, client: UInt64(id), kind: kind, call: call,
                                    returned: returned, outcome: returned == nil ? .unknown : outcome)
        }
    }

    static func isLinearizable(_ ops: [HistoryOperation]) -> Bool {
        search(remaining: ops, register: nil)
    }

    private static func search(remaining: [HistoryOperation], register: [UInt8]?) -> Bool {
        // Whatever is left with an unknown outcome may simply never have happened.
        if remaining.allSatisfy({ $0.returned == nil }) { return true }
        for (i, op) in remaining.enumerated() {
            // `op` can go next unless something still pending returned before it was called.
            let blocked = remaining.contains { other in other.returned.map { $0 < op.call } ?? false }
            if blocked { continue }
            var next = register
            switch (op.kind, op.outcome) {
            case let (.put(_, value), _): next = value
            case (.get, .unknown): break
            case let (.get, .value(seen)): if seen != register { continue }
            case (.delete, .unknown): next = nil
            case let (.delete, .deleted(count)):
                if count != (register == nil ? 0 : 1) { continue }
                next = nil
            default: preconditionFailure("mismatched outcome")
            }
            var rest = remaining
            rest.remove(at: i)
            if search(remaining: rest, register: next) { return true }
        }
        return false
    }
}
