import Codec
import KV
import Raft

/// A node's view of itself, for `kvctl status`.
public struct StatusInfo: Sendable, Equatable {
    public var name: String
    public var id: UInt64
    public var role: Role
    public var term: UInt64
    /// 0 when no leader is known.
    public var leaderID: UInt64
    /// Empty when no leader is known.
    public var leaderName: String
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    /// Entries held in the log (after the snapshot).
    public var logSize: UInt64
    public var firstIndex: UInt64
    public var lastIndex: UInt64
    /// Registered client sessions in this node's state machine, and the table's size limit.
    public var sessions: UInt64
    public var sessionLimit: UInt64
    /// Committed entries that failed to decode and were skipped (should stay 0).
    public var undecodableEntries: UInt64

    public init(name: String, id: UInt64, role: Role, term: UInt64, leaderID: UInt64, leaderName: String,
                commitIndex: UInt64, appliedIndex: UInt64, logSize: UInt64, firstIndex: UInt64, lastIndex: UInt64,
                sessions: UInt64 = 0, sessionLimit: UInt64 = 0, undecodableEntries: UInt64 = 0) {
        self.name = name
        self.id = id
        self.role = role
        self.term = term
        self.leaderID = leaderID
        self.leaderName = leaderName
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.logSize = logSize
        self.firstIndex = firstIndex
        self.lastIndex = lastIndex
        self.sessions = sessions
        self.sessionLimit = sessionLimit
        self.undecodableEntries = undecodableEntries
    }

    /// name str | id varint | role u8 | term | leaderID | leaderName str | commit | applied | logSize | first | last
    /// | sessions | sessionLimit | undecodableEntries
    public func encode(into w: inout ByteWriter) {
        w.writeString(name); w.writeVarint(id); w.writeUInt8(role.rawValue); w.writeVarint(term)
        w.writeVarint(leaderID); w.writeString(leaderName)
        for v in [commitIndex, appliedIndex, logSize, firstIndex, lastIndex, sessions, sessionLimit, undecodableEntries] {
            w.writeVarint(v)
        }
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> StatusInfo {
        let name = try r.readString(limit: limits.maxNameBytes, what: "node name")
        let id = try r.readNodeID(what: "status")
        let roleAt = r.offset
        let rawRole = try r.readUInt8()
        guard let role = Role(rawValue: rawRole) else { throw .unknownTag(offset: roleAt, tag: UInt64(rawRole), what: "role") }
        let term = try r.readVarint()
        let leaderID = try r.readVarint()
        let leaderName = try r.readString(limit: limits.maxNameBytes, what: "leader name")
        let at = r.offset
        let commit = try r.readVarint(), applied = try r.readVarint(), size = try r.readVarint()
        let first = try r.readVarint(), last = try r.readVarint()
        guard applied <= commit else { throw .invalid(offset: at, reason: "applied index \(applied) above commit index \(commit)") }
        let sessions = try r.readVarint(), sessionLimit = try r.readVarint(), undecodable = try r.readVarint()
        return StatusInfo(name: name, id: id, role: role, term: term, leaderID: leaderID, leaderName: leaderName,
                          commitIndex: commit, appliedIndex: applied, logSize: size, firstIndex: first, lastIndex: last,
                          sessions: sessions, sessionLimit: sessionLimit, undecodableEntries: undecodable)
    }
}

/// One configured member, for `kvctl member list`.
public struct MemberInfo: Sendable, Equatable {
    public var id: UInt64
    public var name: String
    /// host:port of the peer listener.
    public var peerURL: String
    /// host:port of the client listener.
    public var clientURL: String

    public init(id: UInt64, name: String, peerURL: String, clientURL: String) {
        self.id = id
        self.name = name
        self.peerURL = peerURL
        self.clientURL = clientURL
    }

    public func encode(into w: inout ByteWriter) {
        w.writeVarint(id); w.writeString(name); w.writeString(peerURL); w.writeString(clientURL)
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> MemberInfo {
        let id = try r.readNodeID(what: "member")
        let name = try r.readString(limit: limits.maxNameBytes, what: "member name")
        let peer = try r.readString(limit: limits.maxNameBytes, what: "peer URL")
        let client = try r.readString(limit: limits.maxNameBytes, what: "client URL")
        return MemberInfo(id: id, name: name, peerURL: peer, clientURL: client)
    }
}

/// The answer to one `ClientCall`, in a `clientReply` frame with the call's request id.
/// Layout: tag u8 | the reply's fields | optional `Fields` block. 1 = kv (KVResult encoding
/// from KV), 2 = status, 3 = members (count varint, then each member), 4 = error, 5 = hello.
/// No reply defines optional fields yet; a decoder skips whatever block it finds.
public enum ClientReply: Sendable, Equatable {
    case kv(KVResult)
    case status(StatusInfo)
    case members([MemberInfo])
    case error(ClientError)
    case hello(HelloReply)

    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .kv(result): w.writeUInt8(1); result.encode(into: &w)
        case let .status(info): w.writeUInt8(2); info.encode(into: &w)
        case let .members(list):
            w.writeUInt8(3); w.writeVarint(UInt64(list.count))
            for m in list { m.encode(into: &w) }
        case let .error(err): w.writeUInt8(4); err.encode(into: &w)
        case let .hello(h): w.writeUInt8(5); h.encode(into: &w)
        }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public func encodedFrame(requestID: UInt64) -> [UInt8] {
        encodeFrame(type: .clientReply, requestID: requestID, body: encoded())
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> ClientReply {
        let reply = try decodeFields(from: &r, limits: limits)
        _ = try Fields.decodeTrailing(from: &r)  // none defined for replies yet: skip them all
        return reply
    }

    private static func decodeFields(from r: inout ByteReader, limits: WireLimits) throws(DecodeError) -> ClientReply {
        let at = r.offset
        switch try r.readUInt8() {
        case 1: return .kv(try KVResult.decode(from: &r))
        case 2: return .status(try StatusInfo.decode(from: &r, limits: limits))
        case 3:
            // Smallest member: id + three empty strings = 4 bytes.
            let n = try r.readCount(limit: limits.maxMembers, minElementBytes: 4, what: "member")
            var list: [MemberInfo] = []
            list.reserveCapacity(n)
            for _ in 0..<n { list.append(try MemberInfo.decode(from: &r, limits: limits)) }
            return .members(list)
        case 4: return .error(try ClientError.decode(from: &r, limits: limits))
        case 5: return .hello(try HelloReply.decode(from: &r, limits: limits))
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "client reply")
        }
    }

    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(DecodeError) -> ClientReply {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r, limits: limits) }
    }

    public static func decode(_ frame: Frame, limits: WireLimits = .default) throws(WireError) -> ClientReply {
        guard frame.type == .clientReply else { throw .unexpectedFrameType(frame.type, requestID: frame.requestID) }
        return try decodeBody(frame) { () throws(DecodeError) in try decode(frame.body, limits: limits) }
    }
}
