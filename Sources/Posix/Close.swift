#if canImport(Glibc)
import Glibc
#endif

/// Closes a descriptor exactly once. Linux releases the descriptor even when close reports
/// EINTR, so close is never retried (a retry could close a descriptor another thread just
/// opened) and EINTR counts as closed. EBADF is a programmer error (a double close).
public func closeDescriptor(_ fd: Int32, _ context: @autoclosure () -> String = "") throws(SystemError) {
    guard Glibc.close(fd) == -1 else { return }
    let e = Glibc.errno
    if e == EINTR { return }
    preconditionIsNotProgrammerErrno(e, call: "close")
    throw SystemError(call: "close", context: context(), errno: e)
}
