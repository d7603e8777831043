#if canImport(Glibc)
import Glibc
#endif
import Posix

/// The real disk, through the project's one syscall wrapper (EINTR retried, errno kept).
/// Stateless: a `FileRef.id` is the file descriptor.
public final class PosixFileSystem: FileSystem, Sendable {
    public init() {}

    @inline(__always)
    private func io<T: FixedWidthInteger>(_ op: String, _ path: String, _ body: () -> T) throws(StorageError) -> T {
        do {
            return try syscall(op, path, body)
        } catch {
            throw StorageError.io(operation: op, path: path, errno: error.errno)
        }
    }

    public func makeDirectory(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            var st = stat()
            if (try? syscall("stat", prefix) { stat(prefix, &st) }) != nil {
                if (st.st_mode & S_IFMT) != S_IFDIR {
                    throw StorageError.io(operation: "mkdir", path: prefix, errno: ENOTDIR)
                }
                continue
            }
            do {
                _ = try io("mkdir", prefix) { mkdir(prefix, 0o755) }
            } catch let e {
                // Someone else created it between stat and mkdir: fine.
                if case let .io(_, _, errno) = e, errno == EEXIST { continue }
                throw e
            }
        }
    }

    public func listDirectory(_ path: String) throws(StorageError) -> [String] {
        let fd = try io("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        // fdopendir/readdir return pointers, so the FixedWidthInteger wrapper does not fit;
        // errno is checked by hand the same way.
        guard let dir = fdopendir(fd) else {
            let e = errno
            try? closeDescriptor(fd, path)
            throw StorageError.io(operation: "fdopendir", path: path, errno: e)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw StorageError.io(operation: "readdir", path: path, errno: errno) }
                break
            }
            let type = ent.pointee.d_type
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if type == UInt8(DT_REG) {
                names.append(name)
            } else if type == UInt8(DT_UNKNOWN) {
                var st = stat()
                let full = joinPath(path, name)
                if (try? syscall("stat", full) { stat(full, &st) }) != nil && (st.st_mode & S_IFMT) == S_IFREG { names.append(name) }
            }
        }
        return names
    }

    public func fileExists(_ path: String) throws(StorageError) -> Bool {
        var st = stat()
        do {
            _ = try syscall("stat", path) { stat(path, &st) }
            return true
        } catch {
            if error.errno == ENOENT { return false }
            throw StorageError.io(operation: "stat", path: path, errno: error.errno)
        }
    }

    public func fileSize(_ path: String) throws(StorageError) -> Int64 {
        var st = stat()
        _ = try io("stat", path) { stat(path, &st) }
        return Int64(st.st_size)
    }

    public func readFile(_ path: String) throws(StorageError) -> [UInt8] {
        let size = try fileSize(path)
        guard size <= Int64(Int.max) else { throw StorageError.io(operation: "read", path: path, errno: EFBIG) }
        return try readFile(path, offset: 0, count: Int(size))
    }

    public func readFile(_ path: String, offset: Int64, count: Int) throws(StorageError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "negative read range")
        let fd = try io("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { try? closeDescriptor(fd, path) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            // withUnsafeMutableBytes rethrows untyped errors, so carry the typed one out in a Result.
            let r: Result<Int, StorageError> = out.withUnsafeMutableBytes { buf in
                Result { () throws(StorageError) -> Int in
                    try io("pread", path) { pread(fd, buf.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
                }
            }
            let n = try r.get()
            if n == 0 { break }  // end of file
            done += n
        }
        if done < count { out.removeLast(count - done) }
        return out
    }

    public func createFile(_ path: String) throws(StorageError) -> FileRef {
        let fd = try io("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644) }
        return FileRef(id: Int64(fd), path: path)
    }

    public func openForAppend(_ path: String) throws(StorageError) -> FileRef {
        let fd = try io("open", path) { open(path, O_WRONLY | O_APPEND | O_CLOEXEC) }
        return FileRef(id: Int64(fd), path: path)
    }

    public func write(_ file: FileRef, _ bytes: [UInt8]) throws(StorageError) {
        let fd = Int32(file.id)
        let r: Result<Void, StorageError> = bytes.withUnsafeBytes { buf in
            Result { () throws(StorageError) in
                var done = 0
                while done < buf.count {
                    // write may be partial (signal, quota); continue from where it stopped.
                    let n = try io("write", file.path) { Glibc.write(fd, buf.baseAddress! + done, buf.count - done) }
                    done += n
                }
            }
        }
        try r.get()
    }

    public func syncData(_ file: FileRef) throws(StorageError) {
        _ = try io("fdatasync", file.path) { fdatasync(Int32(file.id)) }
    }

    public func sync(_ file: FileRef) throws(StorageError) {
        _ = try io("fsync", file.path) { fsync(Int32(file.id)) }
    }

    public func close(_ file: FileRef) {
        // Nothing to act on: the descriptor is released either way (see closeDescriptor).
        try? closeDescriptor(Int32(file.id), file.path)
    }

    public func truncate(_ path: String, size: Int64) throws(StorageError) {
        _ = try io("truncate", path) { Glibc.truncate(path, off_t(size)) }
    }

    public func rename(_ from: String, to: String) throws(StorageError) {
        _ = try io("rename", from + " -> " + to) { Glibc.rename(from, to) }
    }

    public func remove(_ path: String) throws(StorageError) {
        _ = try io("unlink", path) { unlink(path) }
    }

    public func syncDirectory(_ path: String) throws(StorageError) {
        let fd = try io("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { try? closeDescriptor(fd, path) }
        _ = try io("fsync", path) { fsync(fd) }
    }
}
