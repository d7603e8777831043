#if canImport(Glibc)
import Glibc
#endif

/// Closes a descriptor exactly once. Linux releases the descriptor even when close reports
/// EINTR, so retrying (as `syscall` does for EINTR) could close a descriptor another thread
/// just opened: the body returns success on any second invocation instead of calling close.
public func closeDescriptor(_ fd: Int32, _ context: @autoclosure () -> String = "") throws(SystemError) {
    var called = false
    _ = try syscall("close", context()) { () -> Int32 in
        if called { return 0 }
        called = true
        return Glibc.close(fd)
    }
}
