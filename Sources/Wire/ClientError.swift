import Codec
import KV

/// Why the server did not produce a result. The client decides from the case whether to
/// retry, redirect or give up; `timeout` alone leaves the outcome unknown.
public enum ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This node is not the leader. `leaderID` is 0 when no leader is known.
    case notLeader(leaderID: UInt64, leaderClientAddress: String?)
    /// No quorum reachable (or no leader elected yet).
    case unavailable(String)
    /// The command was proposed but not seen to commit in time: it may or may not apply.
    case timeout
    case badRequest(String)
    /// Something exceeded a size limit: `limit` names which ("key", "value", "call",
    /// "proposal", "frame"), `bytes` is that limit. Nothing happened.
    case tooLarge(limit: String, bytes: UInt64)
    /// The proposal queue is full; retry after a back-off.
    case busy
    case shuttingDown
    /// Catch-all: an error case this client did not negotiate (or that has no case of its
    /// own). `code` is that case's tag, `message` says what happened. Outcome unknown; do not
    /// retry automatically.
    case failed(code: UInt64, message: String)

    /// The tags every version-1 client decodes. A server sends any other error as `failed`
    /// unless the client negotiated the feature that introduced it.
    public static let baseTags: ClosedRange<UInt8> = 1...8

    public var description: String {
        switch self {
        case let .notLeader(id, addr):
            if id == 0 { return "not the leader; no leader known" }
            return "not the leader; leader is node \(id)" + (addr.map { " at \($0)" } ?? "")
        case let .unavailable(why): return "cluster unavailable: \(why)"
        case .timeout: return "request timed out; outcome unknown"
        case let .badRequest(why): return "bad request: \(why)"
        case let .tooLarge(limit, bytes): return "\(limit) too large (limit \(bytes) bytes)"
        case .busy: return "server busy; retry later"
        case .shuttingDown: return "server shutting down"
        case let .failed(code, message): return "request failed (error \(code)): \(message)"
        }
    }

    /// Layout: tag u8 | fields.
    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .notLeader(id, addr):
            w.writeUInt8(1); w.writeVarint(id)
            if let addr { w.writeBool(true); w.writeString(addr) } else { w.writeBool(false) }
        case let .unavailable(why): w.writeUInt8(2); w.writeClippedString(why, limit: WireLimits.default.maxReasonBytes)
        case .timeout: w.writeUInt8(3)
        case let .badRequest(why): w.writeUInt8(4); w.writeClippedString(why, limit: WireLimits.default.maxReasonBytes)
        case let .tooLarge(limit, bytes):
            w.writeUInt8(5); w.writeClippedString(limit, limit: WireLimits.default.maxNameBytes); w.writeVarint(bytes)
        case .busy: w.writeUInt8(6)
        case .shuttingDown: w.writeUInt8(7)
        case let .failed(code, message):
            w.writeUInt8(8); w.writeVarint(code); w.writeClippedString(message, limit: WireLimits.default.maxReasonBytes)
        }
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> ClientError {
        let at = r.offset
        switch try r.readUInt8() {
        case 1:
            let id = try r.readVarint()
            let addr = try r.readBool() ? try r.readString(limit: limits.maxNameBytes, what: "leader address") : nil
            return .notLeader(leaderID: id, leaderClientAddress: addr)
        case 2: return .unavailable(try r.readString(limit: limits.maxReasonBytes, what: "reason"))
        case 3: return .timeout
        case 4: return .badRequest(try r.readString(limit: limits.maxReasonBytes, what: "reason"))
        case 5:
            let name = try r.readString(limit: limits.maxNameBytes, what: "limit name")
            return .tooLarge(limit: name, bytes: try r.readVarint())
        case 6: return .busy
        case 7: return .shuttingDown
        case 8:
            let code = try r.readVarint()
            return .failed(code: code, message: try r.readString(limit: limits.maxReasonBytes, what: "message"))
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "client error")
        }
    }
}

extension WireError {
    /// What a server tells a client about a refused frame or call: before closing a
    /// connection whose stream failed, or when one frame or body was refused and the
    /// connection stays usable.
    public var clientError: ClientError {
        switch self {
        case let .frameTooLarge(_, limit, _): return .tooLarge(limit: "frame", bytes: UInt64(limit))
        case let .malformedBody(_, _, .lengthTooLarge(_, length, limit)):
            // The KV decoder reports an over-long key or value as a bare length; the two
            // limits differ (KVCommandLimits), so the limit names the field.
            let field = limit == KVCommandLimits.maxKeyBytes ? "key" : limit == KVCommandLimits.maxValueBytes ? "value" : "field"
            _ = length
            return .tooLarge(limit: field, bytes: UInt64(limit))
        default:
            return .badRequest(description)
        }
    }

    /// The reply frame for this error, addressed to the offending request (0 if unknown).
    public func clientErrorFrame() -> [UInt8] {
        ClientReply.error(clientError).encodedFrame(requestID: requestID ?? 0)
    }
}
