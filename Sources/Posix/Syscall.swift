#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    /// What the call was about: a path, an address, a peer name.
    public var context: String
    public var errno: Int32

    public init(call: String, context: String, errno: Int32) {
        self.call = call
        self.context = context
        self.errno = errno
    }

    /// e.g. `mkdir /etc/hostname: ENOTDIR (Not a directory)`.
    public var description: String {
        let reason = errnoDescription(errno)
        return context.isEmpty ? "\(call): \(reason)" : "\(call) \(context): \(reason)"
    }
}

/// EBADF and EFAULT mean the program passed a descriptor it does not own or a bad pointer:
/// a bug, not a condition to handle, so it stops here (the way swift-nio's System.swift
/// classifies errno) instead of travelling on as an ordinary I/O error.
@inline(__always)
public func preconditionIsNotProgrammerErrno(_ e: Int32, call: String) {
    precondition(e != EBADF && e != EFAULT, "\(call) failed with \(errnoDescription(e)): a programming error")
}

/// Runs a system call that returns -1 and sets errno on failure, retrying EINTR.
/// Every syscall in the project goes through this or `syscallAllowingWouldBlock`.
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ call: String, _ context: @autoclosure () -> String = "", _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        preconditionIsNotProgrammerErrno(e, call: call)
        throw SystemError(call: call, context: context(), errno: e)
    }
}

/// Like `syscall`, but EAGAIN/EWOULDBLOCK yields nil instead of an error (non-blocking I/O).
@inline(__always)
public func syscallAllowingWouldBlock<T: FixedWidthInteger>(_ call: String, _ context: @autoclosure () -> String = "", _ body: () -> T) throws(SystemError) -> T? {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        if e == EAGAIN || e == EWOULDBLOCK { return nil }
        preconditionIsNotProgrammerErrno(e, call: call)
        throw SystemError(call: call, context: context(), errno: e)
    }
}
