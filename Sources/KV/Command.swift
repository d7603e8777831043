import Codec

/// Limits on what a command may carry. Checked before proposing and again when decoding.
public enum KVLimits {
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
}

/// A command as proposed to the log: tagged with the client session for exactly-once
/// semantics (Raft dissertation §6.3).
public struct ClientRequest: Sendable, Equatable {
    /// Non-zero; chosen at random by the client.
    public var clientID: UInt64
    /// Starts at 1 and increases by one per new request; a retry reuses the number.
    public var sequence: UInt64
    /// Every sequence below this has had its reply received, so the server may forget it.
    public var firstUnacknowledged: UInt64
    public var command: KVCommand

    public init(clientID: UInt64, sequence: UInt64, firstUnacknowledged: UInt64, command: KVCommand) {
        self.clientID = clientID
        self.sequence = sequence
        self.firstUnacknowledged = firstUnacknowledged
        self.command = command
    }
}

/// The outcome of applying one command.
public enum KVResult: Sendable, Equatable {
    /// A put was applied; `revision` is the log index that applied it.
    case stored(revision: UInt64)
    /// A get; nil when the key is absent.
    case value([UInt8]?)
    /// A delete; how many keys were removed (0 or 1).
    case deleted(count: Int)
    /// The request's sequence is older than what the session still remembers.
    case sessionExpired
}

// MARK: - Encoding (log entry payload)

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
            let k = try r.readLengthPrefixed(limit: KVLimits.maxKeyBytes)
            let v = try r.readLengthPrefixed(limit: KVLimits.maxValueBytes)
            return .put(key: k, value: v)
        case 2: return .get(key: try r.readLengthPrefixed(limit: KVLimits.maxKeyBytes))
        case 3: return .delete(key: try r.readLengthPrefixed(limit: KVLimits.maxKeyBytes))
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

extension KVResult {
    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .stored(rev): w.writeUInt8(1); w.writeVarint(rev)
        case let .value(v):
            if let v { w.writeUInt8(2); w.writeLengthPrefixed(v) } else { w.writeUInt8(3) }
        case let .deleted(n): w.writeUInt8(4); w.writeVarint(UInt64(n))
        case .sessionExpired: w.writeUInt8(5)
        }
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> KVResult {
        let at = r.offset
        switch try r.readUInt8() {
        case 1: return .stored(revision: try r.readVarint())
        case 2: return .value(try r.readLengthPrefixed(limit: KVLimits.maxValueBytes))
        case 3: return .value(nil)
        case 4:
            let n = try r.readVarint()
            guard n <= 1 else { throw .invalid(offset: at, reason: "delete count \(n) > 1") }
            return .deleted(count: Int(n))
        case 5: return .sessionExpired
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "kv result")
        }
    }
}
