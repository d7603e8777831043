import Glibc

/// An exclusive advisory lock on `<data-dir>/LOCK`, held while the server runs, so a second
/// kvd started on the same directory fails at start-up instead of interleaving writes into
/// the same log. The kernel drops the lock if the process dies.
final class DataDirLock {
    private var fd: Int32

    init(directory: String) throws(ServerError) {
        let path = directory.hasSuffix("/") ? directory + "LOCK" : directory + "/LOCK"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .config("data dir \(directory): cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            Glibc.close(fd)
            fd = -1
            if e == EWOULDBLOCK {
                throw .config("data dir \(directory) is in use by another kvd (\(path) is locked)")
            }
            throw .config("data dir \(directory): cannot lock \(path): \(String(cString: strerror(e)))")
        }
    }

    func release() {
        guard fd >= 0 else { return }
        Glibc.close(fd)  // closing drops the flock
        fd = -1
    }

    deinit { release() }
}
