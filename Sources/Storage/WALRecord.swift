import Codec
import Raft

/// One record of a WAL segment. Framing (see docs/storage.md):
///
///     u32 payloadLength | u8 type | u32 crc32c(payloadLength bytes, type, payload) | payload
///
/// All integers little-endian. Later records win: an entry at an index already in the log
/// replaces it and every entry after it; the newest hard state and snapshot marker count.
enum WALRecord: Equatable, Sendable {
    case entry(Entry)
    case hardState(HardState)
    /// A snapshot covering everything up to (index, term) is durable in a snapshot file.
    case snapshotMarker(index: LogIndex, term: Term)

    static let frameHeaderSize = 9
    /// term u64, index u64, kind u8 (then the data).
    static let entryFixedSize = 17
    static let hardStateSize = 24
    static let snapshotMarkerSize = 16

    enum Kind: UInt8 {
        case entry = 1
        case hardState = 2
        case snapshotMarker = 3
    }

    var kind: Kind {
        switch self {
        case .entry: return .entry
        case .hardState: return .hardState
        case .snapshotMarker: return .snapshotMarker
        }
    }

    var payloadSize: Int {
        switch self {
        case let .entry(e): return WALRecord.entryFixedSize + e.data.count
        case .hardState: return WALRecord.hardStateSize
        case .snapshotMarker: return WALRecord.snapshotMarkerSize
        }
    }

    var encodedSize: Int { WALRecord.frameHeaderSize + payloadSize }

    /// Appends the framed record. The caller has checked `payloadSize <= maxRecordSize`.
    func encode(into w: inout ByteWriter) {
        let start = w.count
        let length = payloadSize
        precondition(length <= Int(UInt32.max), "record larger than the format allows")
        w.writeUInt32(UInt32(length))
        w.writeUInt8(kind.rawValue)
        w.writeUInt32(0)  // CRC, patched below
        switch self {
        case let .entry(e):
            w.writeUInt64(e.term)
            w.writeUInt64(e.index)
            w.writeUInt8(e.kind.rawValue)
            w.writeRaw(e.data)
        case let .hardState(h):
            w.writeUInt64(h.term)
            w.writeUInt64(h.vote)
            w.writeUInt64(h.commit)
        case let .snapshotMarker(index, term):
            w.writeUInt64(index)
            w.writeUInt64(term)
        }
        let crc = WALRecord.frameCRC(w.bytes, headerAt: start, payloadLength: length)
        w.patchUInt32(crc, at: start + 5)
    }

    /// CRC over the length and type bytes, then the payload (the CRC field itself excluded).
    static func frameCRC(_ bytes: [UInt8], headerAt start: Int, payloadLength: Int) -> UInt32 {
        let head = CRC32C.checksum(bytes[start..<start + 5])
        let payloadStart = start + frameHeaderSize
        return CRC32C.checksum(bytes[payloadStart..<payloadStart + payloadLength], seed: head)
    }

    /// Decodes a payload whose CRC already matched. Throws a reason on bad content.
    static func decodePayload(type: UInt8, _ payload: ArraySlice<UInt8>) throws(DecodeError) -> WALRecord {
        var r = ByteReader(payload)
        guard let kind = Kind(rawValue: type) else {
            throw .unknownTag(offset: 0, tag: UInt64(type), what: "record type")
        }
        switch kind {
        case .entry:
            let term = try r.readUInt64()
            let index = try r.readUInt64()
            let kindAt = r.offset
            let rawKind = try r.readUInt8()
            guard let entryKind = EntryKind(rawValue: rawKind) else {
                throw .unknownTag(offset: kindAt, tag: UInt64(rawKind), what: "entry kind")
            }
            guard index >= 1, term >= 1 else { throw .invalid(offset: 0, reason: "entry with zero index or term") }
            let data = try r.readBytes(r.remaining)
            return .entry(Entry(term: term, index: index, kind: entryKind, data: data))
        case .hardState:
            let h = HardState(term: try r.readUInt64(), vote: try r.readUInt64(), commit: try r.readUInt64())
            try r.expectEnd()
            return .hardState(h)
        case .snapshotMarker:
            let index = try r.readUInt64()
            let term = try r.readUInt64()
            try r.expectEnd()
            guard index >= 1, term >= 1 else { throw .invalid(offset: 0, reason: "snapshot marker with zero index or term") }
            return .snapshotMarker(index: index, term: term)
        }
    }
}
