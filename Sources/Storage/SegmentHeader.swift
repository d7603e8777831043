import Codec
import Raft

/// The fixed 28-byte start of every WAL segment:
///
///     u32 magic "RKWL" | u16 version | u16 reserved (0) | u64 sequence | u64 firstIndex | u32 crc32c(previous 24 bytes)
///
/// `firstIndex` is the log's last index + 1 when the segment was created; the previous segment
/// must end exactly at `firstIndex - 1`. Both values are repeated in the file name.
struct SegmentHeader: Equatable, Sendable {
    static let magic: UInt32 = 0x4C57_4B52  // bytes "RKWL"
    static let version: UInt16 = 1
    static let size = 28

    /// Position in the chain of segments, starting at 1; consecutive segments differ by 1.
    var sequence: UInt64
    var firstIndex: LogIndex

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: SegmentHeader.size)
        w.writeUInt32(SegmentHeader.magic)
        w.writeUInt16(SegmentHeader.version)
        w.writeUInt16(0)
        w.writeUInt64(sequence)
        w.writeUInt64(firstIndex)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes and checks the header at the start of `bytes`.
    static func decode(_ bytes: [UInt8], path: String) throws(StorageError) -> SegmentHeader {
        func bad(_ why: String) -> StorageError {
            .corrupt(path: path, offset: 0, reason: "damaged segment header: \(why)\(StorageAdvice.refuse)")
        }
        guard bytes.count >= size else { throw bad("file is \(bytes.count) bytes, shorter than the \(size)-byte header") }
        var r = ByteReader(bytes[0..<size])
        let magic: UInt32, version: UInt16, reserved: UInt16, seq: UInt64, first: UInt64, crc: UInt32
        do throws(DecodeError) {
            magic = try r.readUInt32()
            version = try r.readUInt16()
            reserved = try r.readUInt16()
            seq = try r.readUInt64()
            first = try r.readUInt64()
            crc = try r.readUInt32()
        } catch {
            throw bad(error.description)
        }
        guard crc == CRC32C.checksum(bytes[0..<size - 4]) else { throw bad("header checksum mismatch") }
        guard magic == SegmentHeader.magic else { throw bad("not a RaftKV WAL segment (bad magic)") }
        guard version == SegmentHeader.version else { throw bad("unsupported format version \(version)") }
        guard reserved == 0 else { throw bad("reserved field is \(reserved)") }
        guard seq >= 1, first >= 1 else { throw bad("zero sequence or first index") }
        return SegmentHeader(sequence: seq, firstIndex: first)
    }

    /// "wal-<sequence 16 hex>-<firstIndex 16 hex>.log": sorts by sequence.
    var fileName: String { "wal-\(hex16(sequence))-\(hex16(firstIndex)).log" }

    /// Parses a segment file name; nil when `name` is not one.
    static func parse(fileName name: String) -> SegmentHeader? {
        guard name.hasPrefix("wal-"), name.hasSuffix(".log") else { return nil }
        let parts = name.dropFirst(4).dropLast(4).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 16,
              let seq = UInt64(parts[0], radix: 16), let first = UInt64(parts[1], radix: 16) else { return nil }
        return SegmentHeader(sequence: seq, firstIndex: first)
    }
}

/// Fixed-width lowercase hex so that names sort numerically.
func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
