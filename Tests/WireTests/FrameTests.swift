import XCTest
import Codec
@testable import Wire

final class FrameTests: XCTestCase {
    func testHeaderLayoutByteByByte() {
        let bytes = encodeFrame(type: .clientCall, flags: 0x05, requestID: 0x0102_0304_0506_0708, body: [0xAA, 0xBB])
        XCTAssertEqual(bytes, [
            0x52, 0x4B,             // "RK"
            0x01,                   // version
            0x40,                   // type: clientCall
            0x05,                   // flags
            0x00,                   // reserved
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // request id LE
            0x02, 0x00, 0x00, 0x00, // body length LE
            0xAA, 0xBB,
        ])
        XCTAssertEqual(FrameHeader.size, 18)
    }

    /// The example in docs/protocol.md.
    func testDocumentedStatusCallExample() {
        XCTAssertEqual(ClientCall.status.encodedFrame(requestID: 1),
                       [0x52, 0x4B, 0x01, 0x40, 0x00, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x02])
    }

    func testHeaderParseRoundTrip() throws {
        let bytes = encodeFrame(type: .raftBatch, flags: 3, requestID: .max, body: [1, 2, 3])
        let h = try FrameHeader.parse(bytes[...], maxFrameBytes: 100)
        XCTAssertEqual(h, FrameHeader(type: .raftBatch, flags: 3, requestID: .max, bodyLength: 3))
    }

    func testByteAtATimeAndWholeChunk() throws {
        var stream: [UInt8] = []
        var expected: [Frame] = []
        for i in 0..<20 {
            let body = [UInt8](repeating: UInt8(i), count: i * 7)
            let f = Frame(type: i % 2 == 0 ? .clientCall : .clientReply, requestID: UInt64(i), body: body)
            expected.append(f)
            stream += f.encoded()
        }
        var d1 = FrameDecoder()
        var got1: [Frame] = []
        for b in stream { got1 += try d1.decode([b]) }
        XCTAssertEqual(got1, expected)
        XCTAssertEqual(d1.bufferedBytes, 0)
        XCTAssertEqual(d1.streamOffset, UInt64(stream.count))

        var d2 = FrameDecoder()
        XCTAssertEqual(try d2.decode(stream), expected)

        // Random chunking.
        var d3 = FrameDecoder()
        var got3: [Frame] = []
        var i = 0, step = 1
        while i < stream.count {
            let end = min(stream.count, i + step)
            got3 += try d3.decode(stream[i..<end])
            i = end
            step = (step * 7 + 3) % 50 + 1
        }
        XCTAssertEqual(got3, expected)
    }

    func testFeedThenNext() throws {
        var d = FrameDecoder()
        let a = encodeFrame(type: .raftMessage, requestID: 1, body: [9])
        let b = encodeFrame(type: .raftMessage, requestID: 2, body: [])
        try d.feed(a + b.prefix(5))
        XCTAssertEqual(try d.next()?.requestID, 1)
        XCTAssertNil(try d.next())
        try d.feed(b.dropFirst(5))
        let f = try d.next()
        XCTAssertEqual(f?.requestID, 2)
        XCTAssertEqual(f?.body, [])
        XCTAssertNil(try d.next())
    }

    private func assertFails(_ bytes: [UInt8], maxFrameBytes: Int = 1024, channel: FrameChannel = .any,
                             _ expected: WireError, file: StaticString = #filePath, line: UInt = #line) {
        var d = FrameDecoder(maxFrameBytes: maxFrameBytes, channel: channel)
        XCTAssertThrowsError(try d.decode(bytes), file: file, line: line) {
            XCTAssertEqual($0 as? WireError, expected, file: file, line: line)
        }
        // Stays failed, even when fed a valid frame.
        XCTAssertEqual(d.failure, expected, file: file, line: line)
        XCTAssertThrowsError(try d.feed(encodeFrame(type: .clientCall, requestID: 1, body: [])), file: file, line: line) {
            XCTAssertEqual($0 as? WireError, expected, file: file, line: line)
        }
        XCTAssertThrowsError(try d.next(), file: file, line: line)
        XCTAssertEqual(d.bufferedBytes, 0, "a failed decoder drops its buffer", file: file, line: line)
    }

    func testBadMagic() {
        var f = encodeFrame(type: .clientCall, requestID: 1, body: [])
        f[1] = 0x4C
        assertFails(f, .badMagic(0x52, 0x4C, streamOffset: 0))
        // The offset names where in the stream the bad header starts.
        let good = encodeFrame(type: .clientCall, requestID: 1, body: [1, 2])
        assertFails(good + f, .badMagic(0x52, 0x4C, streamOffset: 20))
    }

    func testUnsupportedVersion() {
        var f = encodeFrame(type: .clientCall, requestID: 1, body: [])
        f[2] = 2
        assertFails(f, .unsupportedVersion(2, streamOffset: 0))
    }

    func testUnknownType() {
        var f = encodeFrame(type: .clientCall, requestID: 77, body: [])
        f[3] = 0x7E
        assertFails(f, .unknownFrameType(0x7E, requestID: 77, streamOffset: 0))
    }

    func testReservedMustBeZero() {
        var f = encodeFrame(type: .clientCall, requestID: 1, body: [])
        f[5] = 1
        assertFails(f, .reservedNotZero(1, streamOffset: 0))
    }

    func testWrongChannel() {
        assertFails(encodeFrame(type: .clientCall, requestID: 5, body: []), channel: .peer,
                    .unexpectedFrameType(.clientCall, requestID: 5))
        assertFails(encodeFrame(type: .raftMessage, requestID: 6, body: []), channel: .client,
                    .unexpectedFrameType(.raftMessage, requestID: 6))
    }

    func testOversizedDetectedFromHeaderAlone() {
        // Only the header of a frame announcing 4 GiB: rejected without the body.
        var w = ByteWriter()
        FrameHeader(type: .raftBatch, requestID: 9, bodyLength: .max).encode(into: &w)
        var d = FrameDecoder()
        XCTAssertThrowsError(try d.feed(w.bytes)) {
            XCTAssertEqual($0 as? WireError, .frameTooLarge(length: UInt64(UInt32.max) + 18, limit: 4 << 20, requestID: 9))
        }
        // Exactly at the limit is fine; one byte over is not.
        let limit = 64
        let atLimit = encodeFrame(type: .clientCall, requestID: 1, body: [UInt8](repeating: 0, count: limit - 18))
        var ok = FrameDecoder(maxFrameBytes: limit)
        XCTAssertEqual(try ok.decode(atLimit).count, 1)
        let over = encodeFrame(type: .clientCall, requestID: 2, body: [UInt8](repeating: 0, count: limit - 17))
        assertFails(Array(over.prefix(18)), maxFrameBytes: limit, .frameTooLarge(length: UInt64(limit + 1), limit: limit, requestID: 2))
    }

    func testBufferIsBounded() {
        var d = FrameDecoder(maxFrameBytes: 64, maxBufferedBytes: 128)
        let f = encodeFrame(type: .clientCall, requestID: 1, body: [UInt8](repeating: 1, count: 20)) // 38 bytes
        XCTAssertNoThrow(try d.feed(f + f + f)) // 114 held, none pulled
        XCTAssertThrowsError(try d.feed(f)) {
            XCTAssertEqual($0 as? WireError, .bufferFull(buffered: 152, limit: 128))
        }
        // A caller that drains after each feed never hits the bound.
        var d2 = FrameDecoder(maxFrameBytes: 64, maxBufferedBytes: 64)
        for _ in 0..<1000 { XCTAssertEqual(try d2.decode(f).count, 1) }
        XCTAssertEqual(d2.bufferedBytes, 0)
    }

    func testLongStreamCompacts() throws {
        var d = FrameDecoder(maxFrameBytes: 1024)
        let f = encodeFrame(type: .raftMessage, requestID: 3, body: [UInt8](repeating: 7, count: 100))
        var n = 0
        for _ in 0..<2000 {
            try d.feed(f.prefix(50))
            try d.feed(f.dropFirst(50))
            while try d.next() != nil { n += 1 }
        }
        XCTAssertEqual(n, 2000)
        XCTAssertEqual(d.streamOffset, UInt64(2000 * f.count))
    }

    func testErrorDescriptionsAreOneLine() {
        let errors: [WireError] = [
            .badMagic(1, 2, streamOffset: 3), .unsupportedVersion(9, streamOffset: 0),
            .unknownFrameType(0xEE, requestID: 1, streamOffset: 2), .unexpectedFrameType(.raftBatch, requestID: 4),
            .reservedNotZero(1, streamOffset: 0), .frameTooLarge(length: 10, limit: 5, requestID: 1),
            .bufferFull(buffered: 10, limit: 5), .malformedBody(.clientCall, requestID: 3, .truncated(offset: 1, needed: 2)),
        ]
        for e in errors {
            XCTAssertFalse(e.description.contains("\n"))
            XCTAssertFalse(e.description.isEmpty)
        }
        XCTAssertTrue(WireError.badMagic(0x47, 0x45, streamOffset: 0).description.contains("0x4745"))
    }
}
