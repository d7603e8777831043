import Codec
import Raft

/// Everything that travels on the peer port, decoded from or encoded to one frame.
public enum PeerFrame: Sendable, Equatable {
    case handshake(PeerHandshake)
    case handshakeReply(PeerHandshakeReply)
    /// Sent as a `raftMessage` frame when there is one message, a `raftBatch` otherwise.
    case raft([Message])

    /// The complete frame, header included. Peer frames have no calls to match, so the
    /// request id is free for tracing (0 by default).
    public func encodedFrame(requestID: UInt64 = 0) -> [UInt8] {
        switch self {
        case let .handshake(h):
            return encodeFrame(type: .peerHandshake, requestID: requestID, body: h.encoded())
        case let .handshakeReply(r):
            return encodeFrame(type: .peerHandshakeReply, requestID: requestID, body: r.encoded())
        case let .raft(messages):
            if messages.isEmpty {  // not a valid frame; kept encodable so tests can send it
                return encodeFrame(type: .raftBatch, requestID: requestID, body: RaftBatch.encode([]))
            }
            return RaftBatch.frame(encodedMessages: messages.map { $0.encoded() }, requestID: requestID)
        }
    }

    public static func decode(_ frame: Frame, limits: WireLimits = .default) throws(WireError) -> PeerFrame {
        switch frame.type {
        case .peerHandshake:
            return .handshake(try decodeBody(frame) { () throws(DecodeError) in try PeerHandshake.decode(frame.body, limits: limits) })
        case .peerHandshakeReply:
            return .handshakeReply(try decodeBody(frame) { () throws(DecodeError) in try PeerHandshakeReply.decode(frame.body, limits: limits) })
        case .raftMessage:
            return .raft([try decodeBody(frame) { () throws(DecodeError) in try Message.decode(frame.body, limits: limits) }])
        case .raftBatch:
            return .raft(try decodeBody(frame) { () throws(DecodeError) in try RaftBatch.decode(frame.body, limits: limits) })
        case .clientCall, .clientReply:
            throw .unexpectedFrameType(frame.type, requestID: frame.requestID)
        }
    }
}

/// Runs a body decoder, labelling its error with the frame it came from.
func decodeBody<T>(_ frame: Frame, _ decode: () throws(DecodeError) -> T) throws(WireError) -> T {
    do {
        return try decode()
    } catch {
        throw .malformedBody(frame.type, requestID: frame.requestID, error)
    }
}
