import Codec

/// Optional features of the client protocol, negotiated by `hello`. A server uses a feature
/// on a connection only when the client asked for it and the server has it.
public struct ProtocolFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The server honours a call's deadline field (CallOptions.deadlineMilliseconds).
    public static let deadlines = ProtocolFeatures(rawValue: 1 << 0)

    /// What this build of the server supports.
    public static let supported: ProtocolFeatures = [.deadlines]
}

/// The client's opening call: which protocol versions and features it speaks.
/// Layout: varint minVersion | varint maxVersion | varint features | string client name (<= 255).
public struct ClientHello: Sendable, Equatable {
    public var minVersion: UInt64
    public var maxVersion: UInt64
    public var features: ProtocolFeatures
    /// Free text for the server's logs (program name and version); may be empty.
    public var clientName: String

    public init(minVersion: UInt64 = 1, maxVersion: UInt64 = UInt64(FrameHeader.currentVersion),
                features: ProtocolFeatures = .supported, clientName: String = "") {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.features = features
        self.clientName = clientName
    }

    public func encode(into w: inout ByteWriter) {
        w.writeVarint(minVersion); w.writeVarint(maxVersion); w.writeVarint(features.rawValue)
        w.writeClippedString(clientName, limit: WireLimits.default.maxNameBytes)
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> ClientHello {
        let at = r.offset
        let lo = try r.readVarint(), hi = try r.readVarint()
        guard lo >= 1, lo <= hi else { throw .invalid(offset: at, reason: "version range \(lo)...\(hi) is empty or starts at 0") }
        let features = ProtocolFeatures(rawValue: try r.readVarint())
        let name = try r.readString(limit: limits.maxNameBytes, what: "client name")
        return ClientHello(minVersion: lo, maxVersion: hi, features: features, clientName: name)
    }
}

/// The server's answer to `hello`: the version both speak, the features it will use, who it
/// is, and the limits a client must respect (so a third-party client need not guess them).
public struct HelloReply: Sendable, Equatable {
    public var version: UInt64
    public var features: ProtocolFeatures
    public var nodeID: UInt64
    public var nodeName: String
    public var maxKeyBytes: UInt64
    public var maxValueBytes: UInt64
    /// Largest call body accepted (`tooLarge("call")` beyond).
    public var maxCallBytes: UInt64
    /// Largest frame, header included (`tooLarge("frame")` beyond).
    public var maxFrameBytes: UInt64
    /// Calls in flight on one connection before `busy`.
    public var maxInflight: UInt64
    /// The server's own deadline for a call, in milliseconds.
    public var requestTimeoutMilliseconds: UInt64

    public init(version: UInt64, features: ProtocolFeatures, nodeID: UInt64, nodeName: String, maxKeyBytes: UInt64,
                maxValueBytes: UInt64, maxCallBytes: UInt64, maxFrameBytes: UInt64, maxInflight: UInt64,
                requestTimeoutMilliseconds: UInt64) {
        self.version = version
        self.features = features
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.maxKeyBytes = maxKeyBytes
        self.maxValueBytes = maxValueBytes
        self.maxCallBytes = maxCallBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxInflight = maxInflight
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
    }

    /// varint version | varint features | nodeid | string name | 6 × varint limits (order as declared).
    public func encode(into w: inout ByteWriter) {
        w.writeVarint(version); w.writeVarint(features.rawValue); w.writeVarint(nodeID); w.writeString(nodeName)
        for v in [maxKeyBytes, maxValueBytes, maxCallBytes, maxFrameBytes, maxInflight, requestTimeoutMilliseconds] {
            w.writeVarint(v)
        }
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> HelloReply {
        let version = try r.readVarint()
        let features = ProtocolFeatures(rawValue: try r.readVarint())
        let id = try r.readNodeID(what: "hello")
        let name = try r.readString(limit: limits.maxNameBytes, what: "node name")
        var v: [UInt64] = []
        for _ in 0..<6 { v.append(try r.readVarint()) }
        return HelloReply(version: version, features: features, nodeID: id, nodeName: name, maxKeyBytes: v[0],
                          maxValueBytes: v[1], maxCallBytes: v[2], maxFrameBytes: v[3], maxInflight: v[4],
                          requestTimeoutMilliseconds: v[5])
    }

    /// The highest version in both ranges, if any.
    public static func negotiate(_ hello: ClientHello, serverMin: UInt64 = 1,
                                 serverMax: UInt64 = UInt64(FrameHeader.currentVersion)) -> UInt64? {
        let v = min(hello.maxVersion, serverMax)
        return v >= max(hello.minVersion, serverMin) ? v : nil
    }
}
