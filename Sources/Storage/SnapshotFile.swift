import Codec
import Raft

/// Byte format of one snapshot file:
///
///     u32 magic "RKSN" | u16 version | u16 reserved (0) | u64 index | u64 term
///     | u32 voterCount | voterCount × u64 voter | u64 dataLength | data | u32 crc32c(all previous bytes)
enum SnapshotFile {
    static let magic: UInt32 = 0x4E53_4B52  // bytes "RKSN"
    static let version: UInt16 = 1
    /// More voters than any sane cluster; bounds what a damaged count can make us allocate.
    static let maxVoters = 1024
    static let fixedSize = 4 + 2 + 2 + 8 + 8 + 4 + 8 + 4

    static func encode(_ s: Snapshot) -> [UInt8] {
        var w = ByteWriter(capacity: fixedSize + 8 * s.metadata.config.voters.count + s.data.count)
        w.writeUInt32(magic)
        w.writeUInt16(version)
        w.writeUInt16(0)
        w.writeUInt64(s.metadata.index)
        w.writeUInt64(s.metadata.term)
        w.writeUInt32(UInt32(s.metadata.config.voters.count))
        for v in s.metadata.config.voters { w.writeUInt64(v) }
        w.writeUInt64(UInt64(s.data.count))
        w.writeRaw(s.data)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes and fully checks a snapshot file. Any problem is `.corrupt` naming the offset.
    static func decode(_ bytes: [UInt8], path: String, maxDataSize: Int) throws(StorageError) -> Snapshot {
        func bad(_ offset: Int, _ why: String) -> StorageError {
            .corrupt(path: path, offset: Int64(offset), reason: "damaged snapshot file: \(why)")
        }
        guard bytes.count >= fixedSize else { throw bad(0, "file is \(bytes.count) bytes, shorter than the minimum \(fixedSize)") }
        let body = bytes[0..<bytes.count - 4]
        var tail = ByteReader(bytes[(bytes.count - 4)...])
        let stored = (try? tail.readUInt32()) ?? 0
        guard CRC32C.checksum(body) == stored else { throw bad(bytes.count - 4, "checksum mismatch") }
        var r = ByteReader(body)
        do throws(DecodeError) {
            guard try r.readUInt32() == magic else { throw DecodeError.invalid(offset: 0, reason: "not a RaftKV snapshot (bad magic)") }
            let v = try r.readUInt16()
            guard v == version else { throw DecodeError.invalid(offset: 4, reason: "unsupported format version \(v)") }
            guard try r.readUInt16() == 0 else { throw DecodeError.invalid(offset: 6, reason: "reserved field not zero") }
            let index = try r.readUInt64()
            let term = try r.readUInt64()
            guard index >= 1, term >= 1 else { throw DecodeError.invalid(offset: 8, reason: "zero index or term") }
            let countAt = r.offset
            let count = Int(try r.readUInt32())
            guard count >= 1, count <= maxVoters else { throw DecodeError.invalid(offset: countAt, reason: "voter count \(count) outside 1...\(maxVoters)") }
            var voters: [NodeID] = []
            voters.reserveCapacity(count)
            for _ in 0..<count {
                let at = r.offset
                let id = try r.readUInt64()
                guard id != noNode else { throw DecodeError.invalid(offset: at, reason: "zero voter id") }
                if let last = voters.last, id <= last { throw DecodeError.invalid(offset: at, reason: "voters not sorted and unique") }
                voters.append(id)
            }
            let lengthAt = r.offset
            let length = try r.readUInt64()
            guard length <= UInt64(maxDataSize) else { throw DecodeError.invalid(offset: lengthAt, reason: "data length \(length) exceeds limit \(maxDataSize)") }
            guard length == UInt64(r.remaining) else {
                throw DecodeError.invalid(offset: lengthAt, reason: "data length \(length) does not match the \(r.remaining) bytes present")
            }
            let data = try r.readBytes(Int(length))
            return Snapshot(metadata: SnapshotMetadata(index: index, term: term, config: ClusterConfig(voters: voters)), data: data)
        } catch {
            if case let .invalid(offset, reason) = error { throw bad(offset, reason) }
            throw bad(r.offset, error.description)
        }
    }
}

/// "snap-<index 16 hex>-<term 16 hex>.snap": sorts by index.
struct SnapshotFileName: Equatable, Sendable {
    var index: LogIndex
    var term: Term

    var fileName: String { "snap-\(hex16(index))-\(hex16(term)).snap" }

    static func parse(_ name: String) -> SnapshotFileName? {
        guard name.hasPrefix("snap-"), name.hasSuffix(".snap") else { return nil }
        let parts = name.dropFirst(5).dropLast(5).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 16,
              let index = UInt64(parts[0], radix: 16), let term = UInt64(parts[1], radix: 16) else { return nil }
        return SnapshotFileName(index: index, term: term)
    }
}
