import Codec

/// Why a byte stream or a frame body was rejected. An error thrown by `FrameDecoder`
/// ends the stream (the decoder stays failed; reply if `requestID` is known, then close).
/// An error thrown by a body decoder concerns that frame alone: framing is still in sync,
/// so a server replies with an error and keeps the connection.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first two bytes of a header were not "RK".
    case badMagic(UInt8, UInt8, streamOffset: UInt64)
    case unsupportedVersion(UInt8, streamOffset: UInt64)
    case unknownFrameType(UInt8, requestID: UInt64, streamOffset: UInt64)
    /// A known type arrived on the wrong port (e.g. a client call on the peer port),
    /// or a body decoder was handed a frame of another type.
    case unexpectedFrameType(FrameType, requestID: UInt64)
    case reservedNotZero(UInt8, streamOffset: UInt64)
    /// Detected from the header, before the body is buffered.
    case frameTooLarge(length: UInt64, limit: Int, requestID: UInt64)
    /// The caller fed more bytes than `maxBufferedBytes` without pulling frames.
    case bufferFull(buffered: Int, limit: Int)
    /// The frame was well formed but its body was not.
    case malformedBody(FrameType, requestID: UInt64, DecodeError)

    /// A header-level refusal of a frame whose header is otherwise sound (magic, version,
    /// reserved byte fine), so its length can be trusted to skip it.
    var isSkippable: Bool {
        switch self {
        case .frameTooLarge, .unknownFrameType, .unexpectedFrameType: return true
        default: return false
        }
    }

    /// The request id of the offending frame, when the header got far enough to say.
    public var requestID: UInt64? {
        switch self {
        case let .unknownFrameType(_, id, _), let .unexpectedFrameType(_, id),
             let .frameTooLarge(_, _, id), let .malformedBody(_, id, _):
            return id
        case .badMagic, .unsupportedVersion, .reservedNotZero, .bufferFull:
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .badMagic(a, b, o):
            return "bad frame magic 0x\(hex(a))\(hex(b)) at stream offset \(o) (expected 0x524B \"RK\")"
        case let .unsupportedVersion(v, o):
            return "unsupported protocol version \(v) at stream offset \(o) (supported: \(FrameHeader.currentVersion))"
        case let .unknownFrameType(t, id, o):
            return "unknown frame type 0x\(hex(t)) (request \(id)) at stream offset \(o)"
        case let .unexpectedFrameType(t, id):
            return "unexpected frame type \(t) (request \(id)) on this connection"
        case let .reservedNotZero(v, o):
            return "reserved header byte is 0x\(hex(v)), must be 0, at stream offset \(o)"
        case let .frameTooLarge(len, lim, id):
            return "frame of \(len) bytes (request \(id)) exceeds limit \(lim)"
        case let .bufferFull(b, lim):
            return "decoder holds \(b) unread bytes, limit \(lim): pull frames before feeding more"
        case let .malformedBody(t, id, e):
            return "malformed \(t) body (request \(id)): \(e)"
        }
    }
}

private func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
}
