import XCTest
@testable import Codec

/// Bit-at-a-time reference, independent of the table code under test.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

final class CRC32CTests: XCTestCase {
    func testCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testEmptyIsZero() {
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testKnownVectors() {
        // RFC 3720 B.4: 32 bytes of zeros, and of 0xFF.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
    }

    func testIncrementalEqualsOneShot() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(data)
        for split in [0, 1, 7, 8, 9, 63, 500, 999, 1000] {
            let a = CRC32C.checksum(data[0..<split])
            let b = CRC32C.checksum(data[split...], seed: a)
            XCTAssertEqual(b, whole, "split at \(split)")
        }
        // Many small chunks of varying size.
        var crc: UInt32 = 0
        var i = 0
        var step = 1
        while i < data.count {
            let end = min(data.count, i + step)
            crc = CRC32C.checksum(data[i..<end], seed: crc)
            i = end
            step = step % 13 + 1
        }
        XCTAssertEqual(crc, whole)
    }

    /// Lengths 0..64 at several alignments exercise both the 8-byte slicing loop and
    /// the byte-at-a-time tail; both must agree with the bitwise reference.
    func testSlicingMatchesBytePath() {
        let base = (0..<80).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for offset in 0..<8 {
            for len in 0...64 {
                let slice = Array(base[offset..<offset + len])
                XCTAssertEqual(CRC32C.checksum(slice), referenceCRC32C(slice), "offset \(offset) len \(len)")
                XCTAssertEqual(CRC32C.checksum(base[offset..<offset + len]), referenceCRC32C(slice))
            }
        }
    }

    func testNonContiguousCollection() {
        let data = Array("123456789".utf8)
        XCTAssertEqual(CRC32C.checksum(data.lazy.map { $0 }), 0xE306_9283)
    }
}
