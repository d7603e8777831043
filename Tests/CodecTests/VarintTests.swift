import Foundation
import Raft  // SeededRandom, the project's one deterministic generator
import XCTest
@testable import Codec

final class VarintTests: XCTestCase {
    private func roundTrip(_ v: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var w = ByteWriter()
        w.writeVarint(v)
        XCTAssertEqual(w.count, varintSize(v), "size of \(v)", file: file, line: line)
        var r = ByteReader(w.bytes)
        XCTAssertEqual(try r.readVarint(), v, file: file, line: line)
        XCTAssertTrue(r.isAtEnd, file: file, line: line)
    }

    func testBoundaries() {
        let values: [UInt64] = [0, 1, 127, 128, 255, 256, 16383, 16384, 1 << 21 - 1, 1 << 21,
                                UInt64(UInt32.max), 1 << 56, 1 << 63 - 1, 1 << 63, UInt64.max - 1, UInt64.max]
        for v in values { roundTrip(v) }
        for shift in 0..<64 {
            roundTrip(1 << UInt64(shift))
            roundTrip((1 << UInt64(shift)) - 1)
        }
    }

    func testEncodedForms() {
        var w = ByteWriter()
        w.writeVarint(0); w.writeVarint(127); w.writeVarint(128); w.writeVarint(300)
        XCTAssertEqual(w.bytes, [0x00, 0x7F, 0x80, 0x01, 0xAC, 0x02])
        var m = ByteWriter()
        m.writeVarint(UInt64.max)
        XCTAssertEqual(m.bytes, [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testRandomRoundTrips() {
        // Fixed so that runs repeat; RAFTKV_TEST_SEED=<n> explores another stream.
        let seed = ProcessInfo.processInfo.environment["RAFTKV_TEST_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0001
        var rng = SeededRandom(seed: seed)
        for _ in 0..<2000 {
            let bits = rng.below(65)
            let v = bits == 0 ? 0 : rng.next() >> (64 - bits)
            var w = ByteWriter()
            w.writeVarint(v)
            var r = ByteReader(w.bytes)
            XCTAssertEqual(try r.readVarint(), v, "seed \(seed) (replay: RAFTKV_TEST_SEED=\(seed))")
            XCTAssertEqual(w.count, varintSize(v), "seed \(seed): size of \(v)")
        }
    }

    func testElevenBytesIsMalformed() {
        let bytes = [UInt8](repeating: 0x80, count: 10) + [0x00]
        var r = ByteReader(bytes)
        XCTAssertThrowsError(try r.readVarint()) { XCTAssertEqual($0 as? DecodeError, .malformedVarint(offset: 0)) }
    }

    func testOverflowIsMalformed() {
        // Ten bytes whose last carries more than the one bit left in a UInt64.
        let bytes = [UInt8](repeating: 0xFF, count: 9) + [0x02]
        var r = ByteReader(bytes)
        XCTAssertThrowsError(try r.readVarint()) { XCTAssertEqual($0 as? DecodeError, .malformedVarint(offset: 0)) }
        // Offset is reported relative to the reader's start.
        var r2 = ByteReader([0x05] + bytes)
        XCTAssertEqual(try r2.readVarint(), 5)
        XCTAssertThrowsError(try r2.readVarint()) { XCTAssertEqual($0 as? DecodeError, .malformedVarint(offset: 1)) }
    }

    func testTruncatedVarint() {
        var r = ByteReader([0x80, 0x80])
        XCTAssertThrowsError(try r.readVarint()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 2, needed: 1)) }
        var e = ByteReader([UInt8]())
        XCTAssertThrowsError(try e.readVarint()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 0, needed: 1)) }
    }

    func testTruncatedFixedWidth() {
        var r = ByteReader([1, 2, 3])
        XCTAssertThrowsError(try r.readUInt32()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 0, needed: 1)) }
        XCTAssertEqual(r.offset, 0, "a failed read consumes nothing")
        XCTAssertThrowsError(try r.readUInt64()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 0, needed: 5)) }
        XCTAssertEqual(try r.readUInt16(), 0x0201)
        XCTAssertThrowsError(try r.readUInt16()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 2, needed: 1)) }
        XCTAssertEqual(try r.readUInt8(), 3)
        XCTAssertThrowsError(try r.readUInt8()) { XCTAssertEqual($0 as? DecodeError, .truncated(offset: 3, needed: 1)) }
    }

    func testTruncatedLengthPrefixed() {
        var w = ByteWriter()
        w.writeVarint(10)
        w.writeRaw([1, 2, 3])
        var r = ByteReader(w.bytes)
        XCTAssertThrowsError(try r.readLengthPrefixed(limit: 100)) {
            XCTAssertEqual($0 as? DecodeError, .truncated(offset: 1, needed: 7))
        }
    }

    func testReadLengthLimit() {
        var w = ByteWriter()
        w.writeVarint(65)
        var r = ByteReader(w.bytes)
        XCTAssertThrowsError(try r.readLength(limit: 64)) {
            XCTAssertEqual($0 as? DecodeError, .lengthTooLarge(offset: 0, length: 65, limit: 64))
        }
        var ok = ByteReader(w.bytes)
        XCTAssertEqual(try ok.readLength(limit: 65), 65)
        // A huge length must be rejected before any allocation.
        var big = ByteWriter()
        big.writeVarint(UInt64.max)
        var rb = ByteReader(big.bytes)
        XCTAssertThrowsError(try rb.readLengthPrefixed(limit: Int.max)) { err in
            guard case .lengthTooLarge = err as? DecodeError else { return XCTFail("\(err)") }
        }
        var huge = ByteWriter()
        huge.writeVarint(1 << 40)
        var rh = ByteReader(huge.bytes)
        XCTAssertThrowsError(try rh.readLengthPrefixed(limit: Int.max)) { err in
            guard case .truncated = err as? DecodeError else { return XCTFail("\(err)") }
        }
    }

    func testFixedWidthLittleEndian() throws {
        var w = ByteWriter()
        w.writeUInt16(0x0102); w.writeUInt32(0x0304_0506); w.writeUInt64(0x0708_090A_0B0C_0D0E)
        XCTAssertEqual(w.bytes, [0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07])
        var r = ByteReader(w.bytes)
        XCTAssertEqual(try r.readUInt16(), 0x0102)
        XCTAssertEqual(try r.readUInt32(), 0x0304_0506)
        XCTAssertEqual(try r.readUInt64(), 0x0708_090A_0B0C_0D0E)
        try r.expectEnd()
    }

    func testBoolAndTrailing() {
        var r = ByteReader([0, 1, 2])
        XCTAssertEqual(try r.readBool(), false)
        XCTAssertEqual(try r.readBool(), true)
        XCTAssertThrowsError(try r.expectEnd()) { XCTAssertEqual($0 as? DecodeError, .trailingBytes(offset: 2, count: 1)) }
        XCTAssertThrowsError(try r.readBool()) {
            XCTAssertEqual($0 as? DecodeError, .unknownTag(offset: 2, tag: 2, what: "bool"))
        }
    }

    func testSliceReaderOffsetsAreRelative() throws {
        let bytes: [UInt8] = [9, 9, 9, 0x2A, 0x01]
        var r = ByteReader(bytes[3...])
        XCTAssertEqual(r.offset, 0)
        XCTAssertEqual(try r.readUInt8(), 0x2A)
        XCTAssertEqual(r.offset, 1)
        XCTAssertEqual(r.remaining, 1)
    }

    func testErrorDescriptionsNameTheOffset() {
        XCTAssertTrue(DecodeError.truncated(offset: 7, needed: 2).description.contains("offset 7"))
        XCTAssertTrue(DecodeError.lengthTooLarge(offset: 3, length: 9, limit: 4).description.contains("limit 4"))
    }
}
