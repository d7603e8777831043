import Codec

/// Snapshot encoding of the whole state machine. Deterministic (sorted keys) so that equal
/// states give equal bytes; ends with a CRC32C of everything before it.
///
/// Layout: magic "RKVS" u32, version u8, appliedIndex varint, key count varint,
/// (key, value) length-prefixed pairs, session count varint, per session: id, floor,
/// lastIndex varints, result count varint, (sequence varint, result) pairs; then CRC32C u32.
extension KVStateMachine {
    static let snapshotMagic: UInt32 = 0x5356_4B52 // "RKVS" little-endian
    static let snapshotVersion: UInt8 = 1

    public func snapshotBytes() -> [UInt8] {
        var w = ByteWriter(capacity: 1024)
        w.writeUInt32(Self.snapshotMagic)
        w.writeUInt8(Self.snapshotVersion)
        w.writeVarint(appliedIndex)
        w.writeVarint(UInt64(data.count))
        for k in data.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            w.writeLengthPrefixed(k)
            w.writeLengthPrefixed(data[k]!)
        }
        w.writeVarint(UInt64(sessions.count))
        for id in sessions.keys.sorted() {
            let s = sessions[id]!
            w.writeVarint(id)
            w.writeVarint(s.floor)
            w.writeVarint(s.lastIndex)
            w.writeVarint(UInt64(s.results.count))
            for seq in s.results.keys.sorted() {
                w.writeVarint(seq)
                s.results[seq]!.encode(into: &w)
            }
        }
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
    public init(snapshot bytes: [UInt8], limits: Limits = Limits()) throws(DecodeError) {
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
        data.reserveCapacity(keys)
        for _ in 0..<keys {
            let k = try r.readLengthPrefixed(limit: KVLimits.maxKeyBytes)
            let v = try r.readLengthPrefixed(limit: KVLimits.maxValueBytes)
            data[k] = v
        }
        let count = try r.readLength(limit: r.remaining)
        for _ in 0..<count {
            let id = try r.readVarint()
            var s = Session()
            s.floor = try r.readVarint()
            s.lastIndex = try r.readVarint()
            let n = try r.readLength(limit: r.remaining)
            for _ in 0..<n {
                let seq = try r.readVarint()
                s.results[seq] = try KVResult.decode(from: &r)
            }
            sessions[id] = s
        }
        try r.expectEnd()
    }
}
