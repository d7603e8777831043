import Codec
import XCTest

final class CRC32CTests: XCTestCase {
    func testCheckValueOf123456789() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testEmptyInputIsZero() {
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testIncrementalEqualsOneShotAtEverySplit() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let first = CRC32C.checksum(bytes[..<split])
            XCTAssertEqual(CRC32C.checksum(bytes[split...], seed: first), whole, "split at \(split)")
        }
    }
}
