#if canImport(Glibc)
import Glibc
#endif
import Posix

/// An exclusive advisory lock on `<data-dir>/LOCK`, held while the server runs, so a second
/// kvd started on the same directory fails at start-up instead of interleaving writes into
/// the same log. The kernel drops the lock if the process dies.
public final class DataDirLock {
    public let path: String
    private var fd: Int32

    /// Throws `.mismatch` when another process holds the lock, `.io` when the file cannot be
    /// opened or locked.
    public init(directory: String) throws(StorageError) {
        let path = joinPath(directory, "LOCK")
        self.path = path
        do {
            fd = try syscall("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        } catch {
            throw StorageError.io(operation: "open", path: path, errno: error.errno)
        }
        do {
            _ = try syscall("flock", path) { [fd] in flock(fd, LOCK_EX | LOCK_NB) }
        } catch {
            try? closeDescriptor(fd, path)
            fd = -1
            if error.errno == EWOULDBLOCK {
                throw StorageError.mismatch(path: path, reason: "the data dir is in use by another kvd (this lock is held)")
            }
            throw StorageError.io(operation: "flock", path: path, errno: error.errno)
        }
    }

    /// Drops the lock (closing the descriptor drops the flock). Idempotent.
    public func release() {
        guard fd >= 0 else { return }
        try? closeDescriptor(fd, path)
        fd = -1
    }

    deinit { release() }
}
