/// Turns a byte stream into frames. Feed it whatever chunks the socket returns and pull
/// complete frames with `next()`.
///
/// Memory is bounded: a header announcing more than `maxFrameBytes` fails as soon as its
/// 18 header bytes are in, before any of the body is buffered, and `feed` refuses to hold more
/// than `maxBufferedBytes` unread bytes (a caller that drains with `next()` after each
/// feed never holds more than one partial frame plus one chunk).
///
/// A frame refused from its header alone (too large, unknown type, wrong port) is skipped
/// when `maxSkipBytes` allows: its body is read and discarded as it arrives, the error is
/// thrown once (`failure` stays nil) and the next frame decodes normally. That lets a server
/// answer `tooLarge` and keep the connection, and the client reads the answer instead of a
/// reset. After any other error the decoder is failed for good and rethrows that error: once
/// framing is lost there is no safe place to resume.
public struct FrameDecoder: Sendable {
    public let maxFrameBytes: Int
    public let maxBufferedBytes: Int
    public let channel: FrameChannel
    /// A refused frame whose body is at most this long is skipped; a longer one (or any, at 0)
    /// fails the stream.
    public let maxSkipBytes: Int

    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first unread byte.
    private var start = 0
    /// Stream offset of `buffer[0]`, to label errors.
    private var consumedBefore: UInt64 = 0
    /// Header of the frame at `start`, once parsed, so it is validated only once.
    private var pending: FrameHeader?
    /// Body bytes of a skipped frame still to arrive and be dropped.
    /// Invariant: while > 0 the buffer is empty (every byte fed goes to the skip first).
    public private(set) var skipping: UInt64 = 0
    public private(set) var failure: WireError?

    public init(maxFrameBytes: Int = WireLimits.default.maxFrameBytes, maxBufferedBytes: Int? = nil,
                channel: FrameChannel = .any, maxSkipBytes: Int = 0) {
        self.maxFrameBytes = max(maxFrameBytes, FrameHeader.size)
        self.maxBufferedBytes = max(maxBufferedBytes ?? 2 * self.maxFrameBytes, self.maxFrameBytes)
        self.channel = channel
        self.maxSkipBytes = max(maxSkipBytes, 0)
    }

    /// Unread bytes held.
    public var bufferedBytes: Int { buffer.count - start }

    /// Total bytes consumed as complete frames since the stream began.
    public var streamOffset: UInt64 { consumedBefore + UInt64(start) }

    /// Appends a chunk. Validates the next header as soon as it is complete, so an
    /// oversized or garbage frame is reported here rather than after buffering its body.
    public mutating func feed<C: Collection>(_ chunk: C) throws(WireError) where C.Element == UInt8 {
        if let failure { throw failure }
        if skipping > 0 {
            let n = Int(min(skipping, UInt64(chunk.count)))
            skipping -= UInt64(n)
            consumedBefore += UInt64(n)
            guard n < chunk.count else { return }
            return try feed(chunk.dropFirst(n))
        }
        let held = bufferedBytes
        guard chunk.count <= maxBufferedBytes - held else {
            return try fail(.bufferFull(buffered: held + chunk.count, limit: maxBufferedBytes))
        }
        compact()
        buffer.append(contentsOf: chunk)
        try parsePendingHeader()
    }

    /// The request id of the frame whose header arrived but whose body is incomplete.
    public var pendingRequestID: UInt64? { pending?.requestID }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        try parsePendingHeader()
        guard let header = pending else { return nil }
        let bodyStart = start + FrameHeader.size
        let bodyEnd = bodyStart + Int(header.bodyLength)
        guard bodyEnd <= buffer.count else { return nil }
        let frame = Frame(header: header, body: Array(buffer[bodyStart..<bodyEnd]))
        start = bodyEnd
        pending = nil
        try parsePendingHeader()
        return frame
    }

    /// Feeds a chunk and pulls every frame it completes.
    public mutating func decode<C: Collection>(_ chunk: C) throws(WireError) -> [Frame] where C.Element == UInt8 {
        try feed(chunk)
        var frames: [Frame] = []
        while let f = try next() { frames.append(f) }
        return frames
    }

    private mutating func parsePendingHeader() throws(WireError) {
        guard pending == nil, skipping == 0, bufferedBytes >= FrameHeader.size else { return }
        do {
            pending = try FrameHeader.parse(buffer[start..<start + FrameHeader.size], maxFrameBytes: maxFrameBytes,
                                            channel: channel, streamOffset: streamOffset)
        } catch {
            let length = UInt64(FrameHeader.bodyLength(buffer[start..<start + FrameHeader.size]))
            guard error.isSkippable, maxSkipBytes > 0, length <= UInt64(maxSkipBytes) else { return try fail(error) }
            skip(bodyLength: length)
            throw error
        }
    }

    /// Drops a refused frame: its header, the body bytes already here, and (via `skipping`)
    /// the rest as it arrives.
    private mutating func skip(bodyLength: UInt64) {
        start += FrameHeader.size
        let here = min(UInt64(bufferedBytes), bodyLength)
        start += Int(here)
        skipping = bodyLength - here
        if skipping > 0 {
            // Everything buffered was part of the body: nothing is left to keep.
            precondition(bufferedBytes == 0, "bytes after a body still arriving")
            consumedBefore += UInt64(start)
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    private mutating func fail(_ error: WireError) throws(WireError) {
        failure = error
        buffer = []
        start = 0
        pending = nil
        throw error
    }

    /// Drops consumed bytes once they dominate the buffer, keeping appends amortised O(1).
    private mutating func compact() {
        guard start > 0, start >= buffer.count / 2 else { return }
        consumedBefore += UInt64(start)
        buffer.removeSubrange(0..<start)
        start = 0
    }
}
