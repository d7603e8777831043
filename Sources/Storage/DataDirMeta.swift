import Codec
import Raft

/// Who a data directory belongs to. Stored in the `meta` file so that a node never starts on
/// another cluster's or another node's log.
public struct DataDirIdentity: Sendable, Equatable {
    /// Shared by all members of one cluster, chosen at bootstrap. 1...256 UTF-8 bytes.
    public var clusterToken: String
    /// Non-zero.
    public var nodeID: NodeID
    /// Human-readable, 0...256 UTF-8 bytes.
    public var nodeName: String

    public init(clusterToken: String, nodeID: NodeID, nodeName: String = "") {
        self.clusterToken = clusterToken
        self.nodeID = nodeID
        self.nodeName = nodeName
    }
}

/// The `meta` file:
///
///     u32 magic "RKMT" | u16 version | u16 reserved (0) | u64 nodeID
///     | u16 tokenLength | token UTF-8 | u16 nameLength | name UTF-8 | u32 crc32c(all previous bytes)
enum DataDirMeta {
    static let fileName = "meta"
    static let magic: UInt32 = 0x544D_4B52  // bytes "RKMT"
    static let version: UInt16 = 1
    static let maxStringBytes = 256

    static func validate(_ id: DataDirIdentity) throws(StorageError) {
        guard id.nodeID != noNode else { throw .invalidArgument("node id must be non-zero") }
        guard (1...maxStringBytes).contains(id.clusterToken.utf8.count) else {
            throw .invalidArgument("cluster token must be 1...\(maxStringBytes) bytes")
        }
        guard id.nodeName.utf8.count <= maxStringBytes else { throw .invalidArgument("node name longer than \(maxStringBytes) bytes") }
    }

    static func encode(_ id: DataDirIdentity) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.writeUInt32(magic)
        w.writeUInt16(version)
        w.writeUInt16(0)
        w.writeUInt64(id.nodeID)
        w.writeUInt16(UInt16(id.clusterToken.utf8.count))
        w.writeRaw(Array(id.clusterToken.utf8))
        w.writeUInt16(UInt16(id.nodeName.utf8.count))
        w.writeRaw(Array(id.nodeName.utf8))
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], path: String) throws(StorageError) -> DataDirIdentity {
        // A file that starts with our magic is a RaftKV meta file: if it does not check out,
        // it is damaged (the disk changed it; writes are atomic), not of an unknown format.
        let ours = bytes.count >= 4 && SegmentScanner.readU32(bytes, 0) == magic
        func bad(_ why: String) -> StorageError {
            guard ours else {
                return .mismatch(path: path, reason: "not a RaftKV meta file (\(why)); this is not a RaftKV data directory"
                    + " of a known format: check --data-dir")
            }
            return .corrupt(path: path, offset: 0, reason: "the meta file is damaged (\(why)), so this data directory's"
                + " cluster and node identity cannot be verified and kvd will not use it. Do not edit or delete the file."
                + " Recover this member as one that lost its disk (docs/operations.md, \"Recovering a member that lost its"
                + " disk\"): move the whole directory aside, keep it for inspection, and let the member rejoin empty")
        }
        guard bytes.count >= 4 + 2 + 2 + 8 + 2 + 2 + 4 else { throw bad("too short: \(bytes.count) bytes") }
        guard CRC32C.checksum(bytes[0..<bytes.count - 4]) == SegmentScanner.readU32(bytes, bytes.count - 4) else {
            throw bad(ours ? "checksum mismatch" : "bad magic")
        }
        var r = ByteReader(bytes[0..<bytes.count - 4])
        do throws(DecodeError) {
            guard try r.readUInt32() == magic else { throw DecodeError.invalid(offset: 0, reason: "bad magic") }
            let v = try r.readUInt16()
            guard v == version else { throw DecodeError.invalid(offset: 4, reason: "unsupported version \(v)") }
            _ = try r.readUInt16()
            let node = try r.readUInt64()
            let tokenLength = Int(try r.readUInt16())
            guard tokenLength <= maxStringBytes else { throw DecodeError.invalid(offset: r.offset, reason: "token too long") }
            let token = try r.readBytes(tokenLength)
            let nameLength = Int(try r.readUInt16())
            guard nameLength <= maxStringBytes else { throw DecodeError.invalid(offset: r.offset, reason: "name too long") }
            let name = try r.readBytes(nameLength)
            try r.expectEnd()
            return DataDirIdentity(clusterToken: String(decoding: token, as: UTF8.self), nodeID: node,
                                   nodeName: String(decoding: name, as: UTF8.self))
        } catch {
            throw bad(error.description)
        }
    }

    /// Writes the meta file into a new directory, or checks the existing one matches `id`.
    /// A directory that already holds WAL segments or snapshots but no meta file is refused.
    static func claim(_ fs: any FileSystem, directory: String, id: DataDirIdentity) throws(StorageError) {
        try validate(id)
        let path = joinPath(directory, fileName)
        if try fs.fileExists(path) {
            let stored = try decode(try fs.readFile(path), path: path)
            guard stored.clusterToken == id.clusterToken else {
                throw .mismatch(path: path, reason: "data directory belongs to cluster \"\(stored.clusterToken)\", not \"\(id.clusterToken)\"; use the right --data-dir")
            }
            guard stored.nodeID == id.nodeID else {
                throw .mismatch(path: path, reason: "data directory belongs to node \(stored.nodeID) (\"\(stored.nodeName)\"), not node \(id.nodeID); use the right --data-dir")
            }
            return
        }
        let existing = try fs.listDirectory(directory)
        if existing.contains(where: { SegmentHeader.parse(fileName: $0) != nil || SnapshotFileName.parse($0) != nil }) {
            throw .mismatch(path: path, reason: "meta file missing but the directory holds WAL or snapshot files; refusing to adopt it")
        }
        try writeFileAtomically(fs, directory: directory, name: fileName, bytes: encode(id)) { (bytes, p) throws(StorageError) in
            guard try decode(bytes, path: p) == id else { throw StorageError.corrupt(path: p, offset: 0, reason: "meta read back differs") }
        }
    }
}
