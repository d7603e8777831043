import Codec
import KV

/// A request on the client port. Sent in a `clientCall` frame whose request id the reply
/// echoes; a client may have many calls in flight and replies may come in any order.
/// Layout: tag u8 | fields. 1 = kv (ClientRequest encoding from KV), 2 = status, 3 = member
/// list, 4 = register a session (no fields; answered `.kv(.registered(clientID:))`).
public enum ClientCall: Sendable, Equatable {
    case kv(ClientRequest)
    case status
    case memberList
    case register

    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .kv(req): w.writeUInt8(1); req.encode(into: &w)
        case .status: w.writeUInt8(2)
        case .memberList: w.writeUInt8(3)
        case .register: w.writeUInt8(4)
        }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public func encodedFrame(requestID: UInt64) -> [UInt8] {
        encodeFrame(type: .clientCall, requestID: requestID, body: encoded())
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ClientCall {
        let at = r.offset
        switch try r.readUInt8() {
        case 1: return .kv(try ClientRequest.decode(from: &r))
        case 2: return .status
        case 3: return .memberList
        case 4: return .register
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "client call")
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ClientCall {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r) }
    }

    /// Decodes a `clientCall` frame. A `malformedBody` error leaves the connection usable:
    /// reply `.error(.badRequest)` with the frame's request id.
    public static func decode(_ frame: Frame) throws(WireError) -> ClientCall {
        guard frame.type == .clientCall else { throw .unexpectedFrameType(frame.type, requestID: frame.requestID) }
        return try decodeBody(frame) { () throws(DecodeError) in try decode(frame.body) }
    }
}
