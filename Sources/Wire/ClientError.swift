import Codec

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
    /// A request or frame exceeded the server's limit in bytes.
    case tooLarge(limit: UInt64)
    /// The proposal queue is full; retry after a back-off.
    case busy
    case shuttingDown

    public var description: String {
        switch self {
        case let .notLeader(id, addr):
            if id == 0 { return "not the leader; no leader known" }
            return "not the leader; leader is node \(id)" + (addr.map { " at \($0)" } ?? "")
        case let .unavailable(why): return "cluster unavailable: \(why)"
        case .timeout: return "request timed out; outcome unknown"
        case let .badRequest(why): return "bad request: \(why)"
        case let .tooLarge(limit): return "request too large (limit \(limit) bytes)"
        case .busy: return "server busy; retry later"
        case .shuttingDown: return "server shutting down"
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
        case let .tooLarge(limit): w.writeUInt8(5); w.writeVarint(limit)
        case .busy: w.writeUInt8(6)
        case .shuttingDown: w.writeUInt8(7)
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
        case 5: return .tooLarge(limit: try r.readVarint())
        case 6: return .busy
        case 7: return .shuttingDown
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "client error")
        }
    }
}

extension WireError {
    /// What a server tells a client before closing a connection whose stream failed, or
    /// when one call's body was malformed. (Reasons are clipped on encode.)
    public var clientError: ClientError {
        switch self {
        case let .frameTooLarge(_, limit, _): return .tooLarge(limit: UInt64(limit))
        case let .bufferFull(_, limit): return .tooLarge(limit: UInt64(limit))
        default:
            return .badRequest(description)
        }
    }

    /// The reply frame for this error, addressed to the offending request (0 if unknown).
    public func clientErrorFrame() -> [UInt8] {
        ClientReply.error(clientError).encodedFrame(requestID: requestID ?? 0)
    }
}
