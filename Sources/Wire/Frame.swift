import Codec

/// The fixed 18-byte header in front of every frame, little-endian:
/// magic "RK" (2) | version (1) | type (1) | flags (1) | reserved = 0 (1) | request id (8) | body length (4).
public struct FrameHeader: Sendable, Equatable {
    public static let size = 18
    public static let magic: (UInt8, UInt8) = (0x52, 0x4B)
    public static let currentVersion: UInt8 = 1

    public var version: UInt8
    public var type: FrameType
    /// No flags are defined in version 1; receivers ignore bits they do not know.
    public var flags: UInt8
    /// Chosen by the caller; a reply carries the id of the call it answers.
    public var requestID: UInt64
    public var bodyLength: UInt32

    public init(version: UInt8 = FrameHeader.currentVersion, type: FrameType, flags: UInt8 = 0,
                requestID: UInt64, bodyLength: UInt32) {
        self.version = version
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.bodyLength = bodyLength
    }

    public func encode(into w: inout ByteWriter) {
        w.writeUInt8(FrameHeader.magic.0)
        w.writeUInt8(FrameHeader.magic.1)
        w.writeUInt8(version)
        w.writeUInt8(type.rawValue)
        w.writeUInt8(flags)
        w.writeUInt8(0)
        w.writeUInt64(requestID)
        w.writeUInt32(bodyLength)
    }

    /// Parses and validates exactly `FrameHeader.size` bytes. Checks, in order: magic,
    /// version, reserved byte, type, then the total frame size against `maxFrameBytes`.
    /// `streamOffset` only labels errors.
    public static func parse(_ bytes: ArraySlice<UInt8>, maxFrameBytes: Int,
                             channel: FrameChannel = .any, streamOffset: UInt64 = 0) throws(WireError) -> FrameHeader {
        precondition(bytes.count >= size, "caller must supply a full header")
        let b = bytes.startIndex
        func u8(_ i: Int) -> UInt8 { bytes[b + i] }
        func le(_ i: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(bytes[b + i + k]) << UInt64(8 * k) }
            return v
        }
        guard (u8(0), u8(1)) == magic else { throw .badMagic(u8(0), u8(1), streamOffset: streamOffset) }
        let version = u8(2)
        guard version == currentVersion else { throw .unsupportedVersion(version, streamOffset: streamOffset) }
        let rawType = u8(3), flags = u8(4), reserved = u8(5)
        guard reserved == 0 else { throw .reservedNotZero(reserved, streamOffset: streamOffset) }
        let requestID = le(6, 8)
        let length = UInt32(truncatingIfNeeded: le(14, 4))
        guard let type = FrameType(rawValue: rawType) else {
            throw .unknownFrameType(rawType, requestID: requestID, streamOffset: streamOffset)
        }
        guard channel.accepts(type) else { throw .unexpectedFrameType(type, requestID: requestID) }
        let total = UInt64(size) + UInt64(length)
        guard total <= UInt64(max(maxFrameBytes, 0)) else {
            throw .frameTooLarge(length: total, limit: maxFrameBytes, requestID: requestID)
        }
        return FrameHeader(version: version, type: type, flags: flags, requestID: requestID, bodyLength: length)
    }

    /// The body length field of a raw header, whether or not the header is valid.
    static func bodyLength(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        let b = bytes.startIndex + 14
        return UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16 | UInt32(bytes[b + 3]) << 24
    }
}

/// One decoded frame: its header and its body bytes.
public struct Frame: Sendable, Equatable {
    public var header: FrameHeader
    public var body: [UInt8]

    public init(header: FrameHeader, body: [UInt8]) {
        self.header = header
        self.body = body
    }

    public init(type: FrameType, flags: UInt8 = 0, requestID: UInt64, body: [UInt8]) {
        self.header = FrameHeader(type: type, flags: flags, requestID: requestID, bodyLength: UInt32(body.count))
        self.body = body
    }

    public var type: FrameType { header.type }
    public var requestID: UInt64 { header.requestID }

    /// Header plus body, ready to write to a socket.
    public func encoded() -> [UInt8] {
        encodeFrame(type: header.type, flags: header.flags, requestID: header.requestID, body: body)
    }
}

/// Serialises one frame. The body must fit the 32-bit length field; callers keep bodies
/// under the peer's `maxFrameBytes` (the receiver rejects larger frames).
public func encodeFrame(type: FrameType, flags: UInt8 = 0, requestID: UInt64, body: [UInt8]) -> [UInt8] {
    precondition(body.count <= Int(UInt32.max), "frame body of \(body.count) bytes does not fit a u32 length")
    var w = ByteWriter(capacity: FrameHeader.size + body.count)
    FrameHeader(type: type, flags: flags, requestID: requestID, bodyLength: UInt32(body.count)).encode(into: &w)
    w.writeRaw(body)
    return w.bytes
}
