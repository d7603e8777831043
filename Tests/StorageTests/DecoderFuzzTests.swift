import Codec
import Raft
@testable import Storage
import XCTest

/// Random and mutated bytes into every reader: a typed error or a sound result, never a
/// crash or hang. Seeded and bounded.
final class DecoderFuzzTests: XCTestCase {
    func validSegment() -> (bytes: [UInt8], records: [WALRecord]) {
        var w = ByteWriter()
        w.writeRaw(SegmentHeader(sequence: 3, firstIndex: 10).encode())
        var records: [WALRecord] = [.snapshotMarker(index: 9, term: 2), .hardState(HardState(term: 2, vote: 1, commit: 9))]
        records += entries(10...30, term: 2).map { WALRecord.entry($0) }
        for r in records { r.encode(into: &w) }
        return (w.bytes, records)
    }

    func mutate(_ input: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + rng.below(4)) {
            guard !b.isEmpty else { break }
            let at = Int(rng.below(UInt64(b.count)))
            switch rng.below(5) {
            case 0: b[at] ^= UInt8(1 + rng.below(255))
            case 1: b.removeLast(b.count - at)
            case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
            case 3: b.remove(at: at)
            default:
                let end = min(b.count, at + Int(rng.below(40)))
                b.insert(contentsOf: b[at..<end], at: Int(rng.below(UInt64(b.count))))
            }
        }
        return b
    }

    func testSegmentScannerOnMutatedSegmentsReturnsOnlyOriginalRecordsOrRefuses() {
        let (valid, originals) = validSegment()
        var rng = SeededRandom(seed: 1)
        var refused = 0, damaged = 0
        for _ in 0..<3000 {
            let input = mutate(valid, &rng)
            do {
                let scan = try SegmentScanner.scan(input, path: "fuzz", maxRecordSize: 1 << 16)
                for r in scan.records { XCTAssertTrue(originals.contains(r.record), "invented record \(r.record)") }
                if scan.damage != nil { damaged += 1 }
                XCTAssertLessThanOrEqual(scan.validEnd, input.count)
            } catch {
                XCTAssertTrue(isCorrupt(error))
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 0)
        XCTAssertGreaterThan(damaged, 0)
    }

    func testSegmentScannerOnRandomBytesRefuses() {
        var rng = SeededRandom(seed: 2)
        for _ in 0..<2000 {
            let n = Int(rng.below(200))
            let input = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertThrowsError(try SegmentScanner.scan(input, path: "fuzz", maxRecordSize: 1 << 16))
        }
    }

    func testRecordsAfterAValidHeaderFromRandomBytesAreDamageNotRecords() {
        var rng = SeededRandom(seed: 3)
        let header = SegmentHeader(sequence: 1, firstIndex: 1).encode()
        for _ in 0..<2000 {
            let n = Int(rng.below(300))
            let input = header + (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            guard let scan = try? SegmentScanner.scan(input, path: "fuzz", maxRecordSize: 1 << 16) else {
                XCTFail("a valid header must decode")
                continue
            }
            XCTAssertTrue(scan.records.isEmpty)
            XCTAssertEqual(scan.damage == nil, n == 0)
        }
    }

    func testSnapshotDecoderOnMutatedAndRandomBytesThrowsTypedErrors() {
        let snap = Snapshot(metadata: SnapshotMetadata(index: 77, term: 5, config: config()), data: payload(77, size: 120))
        let valid = SnapshotFile.encode(snap)
        XCTAssertEqual(try SnapshotFile.decode(valid, path: "s", maxDataSize: 1 << 20), snap)
        var rng = SeededRandom(seed: 4)
        for i in 0..<3000 {
            let input: [UInt8]
            if i % 3 == 0 {
                input = (0..<Int(rng.below(200))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                input = mutate(valid, &rng)
            }
            do {
                let s = try SnapshotFile.decode(input, path: "s", maxDataSize: 1 << 20)
                XCTAssertEqual(s, snap, "a mutation that decodes must be a no-op mutation")
            } catch {
                XCTAssertTrue(isCorrupt(error), "\(error)")
            }
        }
    }

    func testMetaDecoderOnMutatedBytesThrowsTypedErrors() {
        let valid = DataDirMeta.encode(testIdentity)
        XCTAssertEqual(try DataDirMeta.decode(valid, path: "m"), testIdentity)
        var rng = SeededRandom(seed: 5)
        for _ in 0..<2000 {
            let input = mutate(valid, &rng)
            do {
                let id = try DataDirMeta.decode(input, path: "m")
                XCTAssertEqual(id, testIdentity)
            } catch {
                // Damaged (our magic, bad content) or foreign (no magic): both typed, never a trap.
                switch error {
                case .corrupt: XCTAssertEqual(Array(input.prefix(4)), Array(valid.prefix(4)), "corrupt only with our magic")
                case .mismatch: break
                default: XCTFail("\(error)")
                }
            }
        }
    }
}
