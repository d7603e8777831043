import Codec

/// The outcome of applying one log command.
public enum KVResult: Sendable, Equatable {
    /// A put was applied; `revision` is the log index that applied it.
    case stored(revision: UInt64)
    /// A get; nil when the key is absent.
    case value([UInt8]?)
    /// A delete; how many keys were removed (0 or 1).
    case deleted(count: Int)
    /// A session was registered; `clientID` is the registration's log index.
    case registered(clientID: UInt64)
    /// The session is unknown (never registered, or evicted) or no longer remembers this
    /// sequence. The request was NOT applied now; whether an earlier attempt of it was
    /// applied is unknown.
    case sessionExpired
    /// The request breaks a session rule and was not applied; nothing changed.
    case refused(KVRefusal)
}

/// Why a request was refused by the session rules (answered as `badRequest`).
public enum KVRefusal: Sendable, Equatable, CustomStringConvertible {
    /// A retry carried a different command than the request first applied with this sequence.
    case sequenceReused(sequence: UInt64)
    /// `firstUnacknowledged` claims a reply for this very request was already received.
    case floorAboveSequence(sequence: UInt64, firstUnacknowledged: UInt64)

    public var description: String {
        switch self {
        case let .sequenceReused(seq): return "sequence \(seq) reused for a different command"
        case let .floorAboveSequence(seq, fua):
            return "firstUnacknowledged \(fua) is above the request's own sequence \(seq)"
        }
    }
}

extension KVResult {
    /// Layout: tag u8 | fields. 1 stored (varint revision), 2 value present (bytes), 3 value
    /// absent, 4 deleted (varint 0/1), 5 session expired, 6 registered (varint client id),
    /// 7 refused (u8 reason: 1 sequence reused (varint sequence), 2 floor above sequence
    /// (varint sequence, varint firstUnacknowledged)).
    public func encode(into w: inout ByteWriter) {
        switch self {
        case let .stored(rev): w.writeUInt8(1); w.writeVarint(rev)
        case let .value(v):
            if let v { w.writeUInt8(2); w.writeLengthPrefixed(v) } else { w.writeUInt8(3) }
        case let .deleted(n): w.writeUInt8(4); w.writeVarint(UInt64(n))
        case .sessionExpired: w.writeUInt8(5)
        case let .registered(id): w.writeUInt8(6); w.writeVarint(id)
        case let .refused(.sequenceReused(seq)): w.writeUInt8(7); w.writeUInt8(1); w.writeVarint(seq)
        case let .refused(.floorAboveSequence(seq, fua)):
            w.writeUInt8(7); w.writeUInt8(2); w.writeVarint(seq); w.writeVarint(fua)
        }
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> KVResult {
        let at = r.offset
        switch try r.readUInt8() {
        case 1: return .stored(revision: try r.readVarint())
        case 2: return .value(try r.readLengthPrefixed(limit: KVCommandLimits.maxValueBytes))
        case 3: return .value(nil)
        case 4:
            let n = try r.readVarint()
            guard n <= 1 else { throw .invalid(offset: at, reason: "delete count \(n) > 1") }
            return .deleted(count: Int(n))
        case 5: return .sessionExpired
        case 6:
            let id = try r.readVarint()
            guard id != 0 else { throw .invalid(offset: at, reason: "registered client id must be non-zero") }
            return .registered(clientID: id)
        case 7:
            let reasonAt = r.offset
            switch try r.readUInt8() {
            case 1: return .refused(.sequenceReused(sequence: try r.readVarint()))
            case 2:
                let seq = try r.readVarint()
                return .refused(.floorAboveSequence(sequence: seq, firstUnacknowledged: try r.readVarint()))
            case let t: throw .unknownTag(offset: reasonAt, tag: UInt64(t), what: "refusal reason")
            }
        case let t: throw .unknownTag(offset: at, tag: UInt64(t), what: "kv result")
        }
    }
}
