import Codec

/// The first frame on a peer connection, sent by the dialer. The listener checks that the
/// token matches its cluster and that the id and name belong to a configured member, so a
/// misconfigured node cannot join the wrong cluster or impersonate another member.
public struct PeerHandshake: Sendable, Equatable {
    public var clusterToken: String
    public var nodeName: String
    public var nodeID: UInt64
    /// Highest protocol version the dialer speaks.
    public var protocolVersion: UInt8
    /// The dialer's advertised client address (host:port), so members can redirect clients
    /// to it; empty when not advertised. An optional trailing field: older encoders omit it.
    public var clientURL: String
    /// The dialer's commit index when it dialed. Non-zero tells a listener whose storage is
    /// empty that a majority stores entries (the cluster has a history), so the listener must
    /// recover before it votes (docs/operations.md, disk loss). An optional trailing field
    /// after `clientURL`: omitted when 0.
    public var committedIndex: UInt64

    public init(clusterToken: String, nodeName: String, nodeID: UInt64,
                protocolVersion: UInt8 = FrameHeader.currentVersion, clientURL: String = "", committedIndex: UInt64 = 0) {
        self.clusterToken = clusterToken
        self.nodeName = nodeName
        self.nodeID = nodeID
        self.protocolVersion = protocolVersion
        self.clientURL = clientURL
        self.committedIndex = committedIndex
    }

    public func encode(into w: inout ByteWriter) {
        w.writeUInt8(protocolVersion)
        w.writeVarint(nodeID)
        w.writeString(nodeName)
        w.writeString(clusterToken)
        // Omitted when empty so the encoding is byte-identical to the original layout.
        if !clientURL.isEmpty || committedIndex > 0 { w.writeString(clientURL) }
        if committedIndex > 0 { w.writeVarint(committedIndex) }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + nodeName.utf8.count + clusterToken.utf8.count + clientURL.utf8.count + 10)
        encode(into: &w)
        return w.bytes
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> PeerHandshake {
        let at = r.offset
        let version = try r.readUInt8()
        guard version >= 1 else { throw .invalid(offset: at, reason: "handshake protocol version 0") }
        let id = try r.readNodeID(what: "handshake")
        let name = try r.readString(limit: limits.maxNameBytes, what: "node name")
        let token = try r.readString(limit: limits.maxTokenBytes, what: "cluster token")
        let clientURL = r.remaining > 0 ? try r.readString(limit: limits.maxNameBytes, what: "client URL") : ""
        let committedIndex = r.remaining > 0 ? try r.readVarint() : 0
        return PeerHandshake(clusterToken: token, nodeName: name, nodeID: id, protocolVersion: version,
                             clientURL: clientURL, committedIndex: committedIndex)
    }

    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(DecodeError) -> PeerHandshake {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r, limits: limits) }
    }
}

/// The listener's answer to a handshake. On refusal it closes the connection after sending.
public enum PeerHandshakeReply: Sendable, Equatable {
    /// Carries the listener's identity so the dialer can check it reached the right member.
    case accepted(nodeID: UInt64, nodeName: String)
    case refused(reason: String)

    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .accepted(id, name):
            w.writeUInt8(1); w.writeVarint(id); w.writeString(name)
        case let .refused(reason):
            w.writeUInt8(2); w.writeClippedString(reason, limit: WireLimits.default.maxReasonBytes)
        }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> PeerHandshakeReply {
        let at = r.offset
        switch try r.readUInt8() {
        case 1:
            let id = try r.readNodeID(what: "handshake reply")
            return .accepted(nodeID: id, nodeName: try r.readString(limit: limits.maxNameBytes, what: "node name"))
        case 2:
            return .refused(reason: try r.readString(limit: limits.maxReasonBytes, what: "refusal reason"))
        case let t:
            throw .unknownTag(offset: at, tag: UInt64(t), what: "handshake reply")
        }
    }

    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(DecodeError) -> PeerHandshakeReply {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r, limits: limits) }
    }
}
