import CEpoll
import Glibc
import Posix

/// Delivers signals (SIGTERM, SIGINT, ...) as loop callbacks via signalfd, so shutdown runs
/// as ordinary loop code instead of inside an async-signal handler. Loop thread only.
///
/// signalfd only sees signals that are blocked: a process-directed signal goes to any thread
/// that has it unblocked, and then the default action (termination) wins. So call
/// `SignalWatcher.block(_:)` at the top of main, before any thread (the loop's included) is
/// created, so every thread inherits the mask.
public final class SignalWatcher: @unchecked Sendable, EventHandler {
    // @unchecked Sendable: loop-confined; public entry points call assertInLoop().

    public let loop: EventLoop
    public let signals: [Int32]
    private let onSignal: (Int32) -> Void
    private let fd: Int32
    private var registrationID: UInt64 = 0
    private var open = true

    /// Blocks `signals` for the calling thread and threads it creates later.
    public static func block(_ signals: [Int32]) throws(TransportError) {
        var set = makeSet(signals)
        do {
            _ = try syscall("sigprocmask", "SIG_BLOCK \(signals)") { sigprocmask(SIG_BLOCK, &set, nil) }
        } catch {
            throw .system(error)
        }
    }

    /// Must be called on the loop thread; blocks `signals` there too (it is harmless if
    /// `block` already did), so signals aimed at the loop thread itself are also caught.
    public init(loop: EventLoop, signals: [Int32], onSignal: @escaping (Int32) -> Void) throws(TransportError) {
        loop.assertInLoop()
        self.loop = loop
        self.signals = signals
        self.onSignal = onSignal
        try Self.block(signals)
        var set = Self.makeSet(signals)
        do {
            fd = try syscall("signalfd", "\(signals)") { signalfd(-1, &set, Int32(SFD_NONBLOCK) | Int32(SFD_CLOEXEC)) }
        } catch {
            throw .system(error)
        }
        do {
            registrationID = try loop.register(fd: fd, events: EPOLLIN.rawValue, handler: self)
        } catch {
            SocketOps.close(fd)
            throw .system(error)
        }
    }

    /// Stops watching. The signals stay blocked (unblocking could kill the process).
    public func cancel() {
        loop.assertInLoop()
        guard open else { return }
        open = false
        loop.deregister(fd: fd, id: registrationID)
        SocketOps.close(fd)
    }

    func loopIsClosing() { cancel() }

    func handleEvent(_ events: UInt32) {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while open {
            let n = try? syscallAllowingWouldBlock("read", "signalfd") { Glibc.read(fd, &info, size) }
            guard let n, n == size else { return }
            onSignal(Int32(bitPattern: info.ssi_signo))
        }
    }

    private static func makeSet(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        return set
    }
}
