import Raft
import Storage

/// An in-memory `FileSystem` for the deterministic simulator, with crash semantics:
///
/// - Each file has durable bytes (a prefix, `durableLength`) and unsynced bytes after them.
///   `crash` drops the unsynced bytes, keeps them, or keeps a random prefix (a torn write).
/// - Creates, renames and removes are logged per directory until `syncDirectory`. `crash`
///   keeps a random prefix of that log (metadata is journaled in order, as on ext4/xfs),
///   so an un-fsynced rename or create may vanish.
/// - Simplifications: `truncate` and `makeDirectory` are durable at once; renames only within
///   one directory.
/// - `readCorruption` flips one byte in what a read returns, to exercise checksums.
///
/// Every random choice comes from the generator passed in, so runs replay exactly.
/// Not thread-safe; the simulator is single-threaded.
public final class SimFileSystem: FileSystem {
    /// One file's bytes. A class so appends mutate in place (no copy of the whole file).
    final class Inode {
        /// What reads see. Invariant: `durableLength <= content.count`.
        var content: [UInt8] = []
        /// `content[0..<durableLength]` survives a crash.
        var durableLength = 0
    }

    enum DirOp {
        case link(String, Int)
        case unlink(String)
        case rename(from: String, to: String, inode: Int)
    }

    struct Directory {
        /// What lookups see.
        var entries: [String: Int] = [:]
        /// What survives a crash, plus some prefix of `log`.
        var durable: [String: Int] = [:]
        var log: [DirOp] = []

        static func apply(_ op: DirOp, to entries: inout [String: Int]) {
            switch op {
            case let .link(name, ino): entries[name] = ino
            case let .unlink(name): entries[name] = nil
            case let .rename(from, to, ino):
                entries[from] = nil
                entries[to] = ino
            }
        }
    }

    /// Flips one byte of a read with this probability, using `rng`.
    public struct ReadCorruption {
        public var probability: Double
        public var rng: SeededRandom
        public init(probability: Double, rng: SeededRandom) {
            self.probability = probability
            self.rng = rng
        }
    }

    private var directories: [String: Directory] = [:]
    private var inodes: [Int: Inode] = [:]
    private var nextInode = 1
    /// Open handles. Ids are never reused, so a handle from before a crash stays invalid.
    private var handles: [Int64: Int] = [:]
    private var nextHandle: Int64 = 1

    public var readCorruption: ReadCorruption?
    public private(set) var crashCount = 0
    /// Bytes dropped by crashes so far (unsynced data lost), for simulator statistics.
    public private(set) var bytesLostInCrashes = 0

    public init() {}

    // MARK: Crash

    /// Loses what was not made durable, as a power cut would. Open handles become invalid.
    public func crash(using rng: inout SeededRandom) {
        crashCount += 1
        // Sorted iteration: dictionary order differs between processes.
        for id in inodes.keys.sorted() {
            let f = inodes[id]!
            let unsynced = f.content.count - f.durableLength
            guard unsynced > 0 else { continue }
            let keep: Int
            switch rng.below(3) {
            case 0: keep = 0
            case 1: keep = unsynced
            default: keep = Int(rng.below(UInt64(unsynced) + 1))  // torn write
            }
            bytesLostInCrashes += unsynced - keep
            f.content.removeLast(unsynced - keep)
            f.durableLength = f.content.count
        }
        for path in directories.keys.sorted() {
            var d = directories[path]!
            let kept = Int(rng.below(UInt64(d.log.count) + 1))
            var entries = d.durable
            for op in d.log[..<kept] { Directory.apply(op, to: &entries) }
            d.entries = entries
            d.durable = entries
            d.log = []
            directories[path] = d
        }
        handles.removeAll()
        // Files no directory names any more are gone.
        var live = Set<Int>()
        for d in directories.values { live.formUnion(d.entries.values) }
        for id in Array(inodes.keys) where !live.contains(id) { inodes[id] = nil }
    }

    // MARK: Test helpers

    /// Current (not necessarily durable) bytes of a file, or nil.
    public func contents(of path: String) -> [UInt8]? {
        guard let id = lookup(path) else { return nil }
        return inodes[id]!.content
    }

    /// Replaces a file's bytes, durably (models damage at rest).
    public func setContents(of path: String, to bytes: [UInt8]) {
        guard let id = lookup(path) else { preconditionFailure("no file \(path)") }
        inodes[id]!.content = bytes
        inodes[id]!.durableLength = bytes.count
    }

    // MARK: FileSystem

    private static let enoent: Int32 = 2
    private static let enotdir: Int32 = 20

    // On the UTF-8 view: Character-based counting made these the harness's hot spot.
    private func split(_ path: String) -> (dir: String, name: String) {
        let p = trimmedSlashes(path)
        guard let slash = p.utf8.lastIndex(of: UInt8(ascii: "/")) else { return (".", String(p)) }
        let dir = slash == p.startIndex ? "/" : String(p[..<slash])
        return (dir, String(p[p.utf8.index(after: slash)...]))
    }

    private func normalized(_ path: String) -> String {
        String(trimmedSlashes(path))
    }

    private func trimmedSlashes(_ path: String) -> Substring {
        var p = Substring(path)
        while p.utf8.count > 1 && p.utf8.last == UInt8(ascii: "/") { p = p.dropLast() }
        return p
    }

    private func lookup(_ path: String) -> Int? {
        let (dir, name) = split(path)
        return directories[dir]?.entries[name]
    }

    private func inode(_ path: String, _ op: String) throws(StorageError) -> Inode {
        guard let id = lookup(path) else { throw .io(operation: op, path: path, errno: Self.enoent) }
        return inodes[id]!
    }

    private func handle(_ file: FileRef) throws(StorageError) -> Inode {
        guard let id = handles[file.id], let f = inodes[id] else { throw .crashed }
        return f
    }

    public func makeDirectory(_ path: String) throws(StorageError) {
        var p = normalized(path)
        while directories[p] == nil {
            directories[p] = Directory()
            let parent = split(p).dir
            if parent == p { break }
            p = parent
        }
    }

    public func listDirectory(_ path: String) throws(StorageError) -> [String] {
        guard let d = directories[normalized(path)] else { throw .io(operation: "open", path: path, errno: Self.enoent) }
        return d.entries.keys.sorted()
    }

    public func fileExists(_ path: String) throws(StorageError) -> Bool {
        lookup(path) != nil || directories[normalized(path)] != nil
    }

    public func fileSize(_ path: String) throws(StorageError) -> Int64 {
        Int64(try inode(path, "stat").content.count)
    }

    public func readFile(_ path: String) throws(StorageError) -> [UInt8] {
        var bytes = try inode(path, "open").content
        corrupt(&bytes)
        return bytes
    }

    public func readFile(_ path: String, offset: Int64, count: Int) throws(StorageError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "negative read range")
        let f = try inode(path, "open")
        let start = min(Int(clamping: offset), f.content.count)
        let end = min(start + count, f.content.count)
        var bytes = Array(f.content[start..<end])
        corrupt(&bytes)
        return bytes
    }

    private func corrupt(_ bytes: inout [UInt8]) {
        guard var c = readCorruption, !bytes.isEmpty else { return }
        if c.rng.chance(c.probability) {
            let at = Int(c.rng.below(UInt64(bytes.count)))
            bytes[at] ^= UInt8(1 + c.rng.below(255))
        }
        readCorruption = c
    }

    public func createFile(_ path: String) throws(StorageError) -> FileRef {
        let (dir, name) = split(path)
        guard directories[dir] != nil else { throw .io(operation: "open", path: path, errno: Self.enoent) }
        let id: Int
        if let existing = directories[dir]!.entries[name] {
            id = existing  // O_TRUNC on the same file
            inodes[id]!.content = []
            inodes[id]!.durableLength = 0
        } else {
            id = nextInode
            nextInode += 1
            inodes[id] = Inode()
            directories[dir]!.entries[name] = id
            directories[dir]!.log.append(.link(name, id))
        }
        return open(id, path)
    }

    public func openForAppend(_ path: String) throws(StorageError) -> FileRef {
        guard let id = lookup(path) else { throw .io(operation: "open", path: path, errno: Self.enoent) }
        return open(id, path)
    }

    private func open(_ inode: Int, _ path: String) -> FileRef {
        let h = nextHandle
        nextHandle += 1
        handles[h] = inode
        return FileRef(id: h, path: path)
    }

    public func write(_ file: FileRef, _ bytes: [UInt8]) throws(StorageError) {
        try handle(file).content.append(contentsOf: bytes)
    }

    public func syncData(_ file: FileRef) throws(StorageError) {
        let f = try handle(file)
        f.durableLength = f.content.count
    }

    public func sync(_ file: FileRef) throws(StorageError) {
        try syncData(file)
    }

    public func close(_ file: FileRef) {
        handles[file.id] = nil
    }

    public func truncate(_ path: String, size: Int64) throws(StorageError) {
        let f = try inode(path, "truncate")
        let n = Int(clamping: max(0, size))
        if n < f.content.count { f.content.removeLast(f.content.count - n) }
        f.durableLength = min(f.durableLength, f.content.count)
    }

    public func rename(_ from: String, to: String) throws(StorageError) {
        let (dir, fromName) = split(from)
        let (toDir, toName) = split(to)
        guard dir == toDir else { throw .invalidArgument("SimFileSystem renames only within one directory") }
        guard let id = directories[dir]?.entries[fromName] else {
            throw .io(operation: "rename", path: from, errno: Self.enoent)
        }
        let op = DirOp.rename(from: fromName, to: toName, inode: id)
        Directory.apply(op, to: &directories[dir]!.entries)
        directories[dir]!.log.append(op)
    }

    public func remove(_ path: String) throws(StorageError) {
        let (dir, name) = split(path)
        guard directories[dir]?.entries[name] != nil else { throw .io(operation: "unlink", path: path, errno: Self.enoent) }
        let op = DirOp.unlink(name)
        Directory.apply(op, to: &directories[dir]!.entries)
        directories[dir]!.log.append(op)
    }

    public func syncDirectory(_ path: String) throws(StorageError) {
        let p = normalized(path)
        guard directories[p] != nil else { throw .io(operation: "open", path: path, errno: Self.enotdir) }
        let before = directories[p]!.durable
        directories[p]!.durable = directories[p]!.entries
        directories[p]!.log = []
        // Free files whose last name is now durably gone and that nobody has open.
        let dropped = Set(before.values).subtracting(directories[p]!.durable.values)
        guard !dropped.isEmpty else { return }
        let open = Set(handles.values)
        for id in dropped where !open.contains(id) && !isNamed(id) { inodes[id] = nil }
    }

    private func isNamed(_ id: Int) -> Bool {
        for d in directories.values {
            if d.entries.values.contains(id) || d.durable.values.contains(id) { return true }
            for op in d.log {
                switch op {
                case let .link(_, i), let .rename(_, _, i): if i == id { return true }
                case .unlink: break
                }
            }
        }
        return false
    }
}
