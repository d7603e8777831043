/// Turns a byte stream into frames. Feed it whatever chunks the socket returns and pull
/// complete frames with `next()`.
///
/// Memory is bounded: a header announcing more than `maxFrameBytes` fails as soon as its
/// 18 header bytes are in, before any of the body is buffered, and `feed` refuses to hold more
/// than `maxBufferedBytes` unread bytes (a caller that drains with `next()` after each
/// feed never holds more than one partial frame plus one chunk).
///
/// After any error the decoder is failed for good and rethrows that error: once framing is
/// lost there is no safe place to resume.
public struct FrameDecoder: Sendable {
    public let maxFrameBytes: Int
    public let maxBufferedBytes: Int
    public let channel: FrameChannel

    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first unread byte.
    private var start = 0
    /// Stream offset of `buffer[0]`, to label errors.
    private var consumedBefore: UInt64 = 0
    /// Header of the frame at `start`, once parsed, so it is validated only once.
    private var pending: FrameHeader?
    public private(set) var failure: WireError?

    public init(maxFrameBytes: Int = WireLimits.default.maxFrameBytes, maxBufferedBytes: Int? = nil,
                channel: FrameChannel = .any) {
        self.maxFrameBytes = max(maxFrameBytes, FrameHeader.size)
        self.maxBufferedBytes = max(maxBufferedBytes ?? 2 * self.maxFrameBytes, self.maxFrameBytes)
        self.channel = channel
    }

    /// Unread bytes held.
    public var bufferedBytes: Int { buffer.count - start }

    /// Total bytes consumed as complete frames since the stream began.
    public var streamOffset: UInt64 { consumedBefore + UInt64(start) }

    /// Appends a chunk. Validates the next header as soon as it is complete, so an
    /// oversized or garbage frame is reported here rather than after buffering its body.
    public mutating func feed<C: Collection>(_ chunk: C) throws(WireError) where C.Element == UInt8 {
        if let failure { throw failure }
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
        guard pending == nil, bufferedBytes >= FrameHeader.size else { return }
        do {
            pending = try FrameHeader.parse(buffer[start..<start + FrameHeader.size], maxFrameBytes: maxFrameBytes,
                                            channel: channel, streamOffset: streamOffset)
        } catch {
            try fail(error)
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
