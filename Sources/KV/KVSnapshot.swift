import Codec

/// Snapshot encoding of the whole state machine. Deterministic (sorted keys) so that equal
/// states give equal bytes; ends with a CRC32C of everything before it.
///
/// Layout: magic "RKVS" u32, version u8 (2), appliedIndex varint, key count varint,
/// (key, value) length-prefixed pairs, then the session table (`SessionTable.encode`),
/// then CRC32C u32.
extension KVStateMachine {
    static let snapshotMagic: UInt32 = 0x5356_4B52 // "RKVS" little-endian
    /// 2: registered sessions with command digests; reads not cached.
    static let snapshotVersion: UInt8 = 2

    public func snapshotBytes() -> [UInt8] {
        var w = ByteWriter(capacity: 1024)
        w.writeUInt32(Self.snapshotMagic)
        w.writeUInt8(Self.snapshotVersion)
        w.writeVarint(appliedIndex)
        w.writeVarint(UInt64(store.data.count))
        for k in store.data.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            w.writeLengthPrefixed(k)
            w.writeLengthPrefixed(store.data[k]!)
        }
        sessions.encode(into: &w)
        let crc = CRC32C.checksum(w.bytes)
        w.writeUInt32(crc)
        return w.bytes
    }

    /// True when `bytes` end with a valid checksum of a snapshot (used before installing).
    public static func snapshotChecksumValid(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 9 else { return false }
        let body = bytes[..<(bytes.count - 4)]
        var r = ByteReader(bytes[(bytes.count - 4)...])
        guard let stored = try? r.readUInt32() else { return false }
        return CRC32C.checksum(body) == stored
    }

    /// Rebuilds a state machine from `snapshotBytes()` output; validates everything.
    public init(snapshot bytes: [UInt8], limits: SessionLimits = SessionLimits()) throws(DecodeError) {
        guard Self.snapshotChecksumValid(bytes) else {
            throw .invalid(offset: max(0, bytes.count - 4), reason: "snapshot checksum mismatch")
        }
        self.init(limits: limits)
        var r = ByteReader(bytes[..<(bytes.count - 4)])
        let magicAt = r.offset
        guard try r.readUInt32() == Self.snapshotMagic else { throw .invalid(offset: magicAt, reason: "not a KV snapshot") }
        let vAt = r.offset
        let version = try r.readUInt8()
        guard version == Self.snapshotVersion else { throw .unknownTag(offset: vAt, tag: UInt64(version), what: "snapshot version") }
        appliedIndex = try r.readVarint()
        let keys = try r.readLength(limit: r.remaining)
        store.data.reserveCapacity(keys)
        for _ in 0..<keys {
            let k = try r.readLengthPrefixed(limit: KVCommandLimits.maxKeyBytes)
            let v = try r.readLengthPrefixed(limit: KVCommandLimits.maxValueBytes)
            store.data[k] = v
        }
        sessions = try SessionTable(from: &r, limits: limits)
        try r.expectEnd()
    }
}
