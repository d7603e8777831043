/// The message type byte of a frame. Peer traffic uses 0x01...0x3F and client traffic
/// 0x40...0x7F, so a frame sent to the wrong port is recognised as such.
public enum FrameType: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    // Peer port.
    case peerHandshake = 0x01
    case peerHandshakeReply = 0x02
    case raftMessage = 0x03
    case raftBatch = 0x04
    // Client port.
    case clientCall = 0x40
    case clientReply = 0x41

    public var channel: FrameChannel {
        rawValue < 0x40 ? .peer : .client
    }

    public var description: String {
        switch self {
        case .peerHandshake: return "PeerHandshake"
        case .peerHandshakeReply: return "PeerHandshakeReply"
        case .raftMessage: return "RaftMessage"
        case .raftBatch: return "RaftBatch"
        case .clientCall: return "ClientCall"
        case .clientReply: return "ClientReply"
        }
    }
}

/// Which port a decoder serves; it rejects frame types that belong to the other one.
public enum FrameChannel: Sendable, Equatable {
    case peer
    case client
    /// Accept every known type (tests, tools).
    case any

    public func accepts(_ type: FrameType) -> Bool {
        self == .any || type.channel == self
    }
}
