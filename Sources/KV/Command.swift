import Codec

/// Size limits on what a command may carry. Checked by the client before sending, by the
/// server when decoding a call, and again when decoding a log entry.
public enum KVCommandLimits {
    public static let maxKeyBytes = 64 * 1024
    public static let maxValueBytes = 1024 * 1024
}

/// An operation on the key-value map.
public enum KVCommand: Sendable, Equatable {
    case put(key: [UInt8], value: [UInt8])
    /// Reads go through the log so that they are linearizable (§8).
    case get(key: [UInt8])
    case delete(key: [UInt8])

    public var key: [UInt8] {
        switch self {
        case let .put(k, _), let .get(k), let .delete(k): return k
        }
    }

    /// Reads change nothing, so a retried read simply runs again (its result is not cached).
    public var isRead: Bool {
        if case .get = self { return true }
        return false
    }
}

/// A command as proposed to the log, tagged with its client session for exactly-once
/// semantics (Raft dissertation §6.3). The session must have been registered first
/// (`LogCommand.register`); the rules are in docs/protocol.md, "Sessions".
public struct ClientRequest: Sendable, Equatable {
    /// The session id the server assigned at registration (the registration's log index).
    public var clientID: UInt64
    /// Non-zero. A new request takes the next number; a retry reuses it with the same command.
    public var sequence: UInt64
    /// Every sequence below this has had its reply received, so the server may forget it.
    /// Must not exceed `sequence` (a request that breaks this is refused and changes nothing).
    public var firstUnacknowledged: UInt64
    public var command: KVCommand

    public init(clientID: UInt64, sequence: UInt64, firstUnacknowledged: UInt64, command: KVCommand) {
        self.clientID = clientID
        self.sequence = sequence
        self.firstUnacknowledged = firstUnacknowledged
        self.command = command
    }
}

/// The payload of a normal log entry: either a session registration or a client request.
public enum LogCommand: Sendable, Equatable {
    /// Starts a new client session; its id is the index of the entry that applies it.
    case register
    case request(ClientRequest)
}

// MARK: - Encoding (log entry payload and the client port's kv call)

extension KVCommand {
    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .put(k, v):
            w.writeUInt8(1); w.writeLengthPrefixed(k); w.writeLengthPrefixed(v)
        case let .get(k):
            w.writeUInt8(2); w.writeLengthPrefixed(k)
        case let .delete(k):
            w.writeUInt8(3); w.writeLengthPrefixed(k)
        }
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> KVCommand {
        let at = r.offset
        switch try r.readUInt8() {
        case 1:
            let k = try r.readLengthPrefixed(limit: KVCommandLimits.maxKeyBytes)
            let v = try r.readLengthPrefixed(limit: KVCommandLimits.maxValueBytes)
            return .put(key: k, value: v)
        case 2: return .get(key: try r.readLengthPrefixed(limit: KVCommandLimits.maxKeyBytes))
        case 3: return .delete(key: try r.readLengthPrefixed(limit: KVCommandLimits.maxKeyBytes))
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "kv command")
        }
    }
}

extension ClientRequest {
    public func encode(into w: inout ByteWriter) {
        w.writeVarint(clientID)
        w.writeVarint(sequence)
        w.writeVarint(firstUnacknowledged)
        command.encode(into: &w)
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + command.key.count)
        encode(into: &w)
        return w.bytes
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ClientRequest {
        let at = r.offset
        let id = try r.readVarint()
        let seq = try r.readVarint()
        let fua = try r.readVarint()
        guard id != 0, seq != 0 else { throw .invalid(offset: at, reason: "client id and sequence must be non-zero") }
        let cmd = try KVCommand.decode(from: &r)
        return ClientRequest(clientID: id, sequence: seq, firstUnacknowledged: fua, command: cmd)
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ClientRequest {
        var r = ByteReader(bytes)
        let req = try decode(from: &r)
        try r.expectEnd()
        return req
    }
}

extension LogCommand {
    /// Layout: tag u8 | fields. 1 = register (no fields), 2 = request (ClientRequest).
    public func encode(into w: inout ByteWriter) {
        switch self {
        case .register: w.writeUInt8(1)
        case let .request(req): w.writeUInt8(2); req.encode(into: &w)
        }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 40 + (request?.command.key.count ?? 0))
        encode(into: &w)
        return w.bytes
    }

    public var request: ClientRequest? {
        if case let .request(r) = self { return r }
        return nil
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> LogCommand {
        var r = ByteReader(bytes)
        let at = r.offset
        let cmd: LogCommand
        switch try r.readUInt8() {
        case 1: cmd = .register
        case 2: cmd = .request(try ClientRequest.decode(from: &r))
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "log command")
        }
        try r.expectEnd()
        return cmd
    }
}
