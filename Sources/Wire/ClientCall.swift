import Codec
import KV

/// A request on the client port. Sent in a `clientCall` frame whose request id the reply
/// echoes; a client may have many calls in flight and replies may come in any order.
/// Layout: tag u8 | the call's fields | optional `Fields` block (CallOptions).
/// 1 = kv (ClientRequest), 2 = status, 3 = member list, 4 = register a session (no fields;
/// answered `.kv(.registered(clientID:))`), 5 = hello.
public enum ClientCall: Sendable, Equatable {
    case kv(ClientRequest)
    case status
    case memberList
    case register
    /// Negotiates the protocol version and features; answered by any member.
    case hello(ClientHello)

    public func encode(into w: inout ByteWriter, options: CallOptions = CallOptions()) {
        switch self {
        case let .kv(req): w.writeUInt8(1); req.encode(into: &w)
        case .status: w.writeUInt8(2)
        case .memberList: w.writeUInt8(3)
        case .register: w.writeUInt8(4)
        case let .hello(h): w.writeUInt8(5); h.encode(into: &w)
        }
        options.fields.encode(into: &w)
    }

    public func encoded(options: CallOptions = CallOptions()) -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w, options: options)
        return w.bytes
    }

    public func encodedFrame(requestID: UInt64, options: CallOptions = CallOptions()) -> [UInt8] {
        encodeFrame(type: .clientCall, requestID: requestID, body: encoded(options: options))
    }

    /// The call alone; its options (if any) are read and dropped.
    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ClientCall {
        try decodeWithOptions(from: &r).call
    }

    public static func decodeWithOptions(from r: inout ByteReader) throws(DecodeError) -> (call: ClientCall, options: CallOptions) {
        let at = r.offset
        let call: ClientCall
        switch try r.readUInt8() {
        case 1: call = .kv(try ClientRequest.decode(from: &r))
        case 2: call = .status
        case 3: call = .memberList
        case 4: call = .register
        case 5: call = .hello(try ClientHello.decode(from: &r))
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "client call")
        }
        let options = try CallOptions(fields: Fields.decodeTrailing(from: &r))
        return (call, options)
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ClientCall {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r) }
    }

    /// Decodes a `clientCall` frame. A `malformedBody` error leaves the connection usable:
    /// reply `.error(.badRequest)` (or `.tooLarge` for an over-limit field) with the frame's request id.
    public static func decode(_ frame: Frame) throws(WireError) -> ClientCall {
        try decodeWithOptions(frame).call
    }

    public static func decodeWithOptions(_ frame: Frame) throws(WireError) -> (call: ClientCall, options: CallOptions) {
        guard frame.type == .clientCall else { throw .unexpectedFrameType(frame.type, requestID: frame.requestID) }
        return try decodeBody(frame) { () throws(DecodeError) in
            try decodeWhole(frame.body) { (r: inout ByteReader) throws(DecodeError) in try decodeWithOptions(from: &r) }
        }
    }
}
