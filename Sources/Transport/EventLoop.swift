import CEpoll
import Dispatch
import Foundation
import Glibc
import Posix
import Synchronization

/// Something registered with the loop's epoll set. Called only on the loop thread.
protocol EventHandler: AnyObject {
    func handleEvent(_ events: UInt32)
    /// The loop is stopping: release the descriptor and report `.loopShutdown`.
    func loopIsClosing()
}

/// One thread running epoll_wait, plus a task queue and timers.
///
/// Ownership rule: `execute`, `schedule*`, `shutdown`, `submitAndWait` and `inLoop` may be
/// called from any thread. Everything else in this module (listeners, connections, peer links,
/// signal watchers, their callbacks and properties) belongs to the loop thread: create and use
/// them inside `execute { }` or a callback. Loop-only entry points check this with
/// `assertInLoop()` (a precondition, so violations fail fast rather than race).
public final class EventLoop: @unchecked Sendable {
    // @unchecked Sendable is sound because each stored property is one of: immutable (`let`),
    // protected by `shared` (a Mutex) or atomic, or loop-confined (`handlers`, `timers`,
    // `tickEnd`, `readBuffer`, `nextID`), which is touched only after `assertInLoop()` or from
    // `run()` itself on the loop thread.

    public struct Configuration: Sendable {
        /// `execute` fails with `.queueFull` beyond this many pending tasks.
        public var maxQueuedTasks: Int
        public var maxEventsPerWait: Int
        /// Size of the shared receive buffer (bytes read per recv call).
        public var readBufferBytes: Int

        public init(maxQueuedTasks: Int = 65_536, maxEventsPerWait: Int = 256, readBufferBytes: Int = 64 * 1024) {
            self.maxQueuedTasks = max(1, maxQueuedTasks)
            self.maxEventsPerWait = max(1, maxEventsPerWait)
            self.readBufferBytes = max(1024, readBufferBytes)
        }
    }

    private enum Phase { case idle, running, stopped }

    private struct Shared {
        var tasks: [@Sendable () -> Void] = []
        var stopping = false
        var phase = Phase.idle
        /// The epoll and wake descriptors are closed. Invariant: set together with the close,
        /// under the lock, so `wake` (which writes under the lock) never writes to a closed
        /// (or, worse, reused) descriptor.
        var descriptorsClosed = false
    }

    public let configuration: Configuration
    private let shared = Mutex(Shared())
    private let loopThread = Atomic<UInt>(0)  // pthread_t of the thread in run(), 0 otherwise
    private let epollFD: Int32
    private let wakeFD: Int32
    private let exited = DispatchSemaphore(value: 0)

    // Loop-confined.
    private var handlers: [UInt64: any EventHandler] = [:]
    private var nextID: UInt64 = 1  // 0 is the wake eventfd
    private var timers = TimerHeap()
    private var tickEnd: [() -> Void] = []
    var readBuffer: [UInt8]

    public init(configuration: Configuration = .init()) throws(TransportError) {
        self.configuration = configuration
        self.readBuffer = [UInt8](repeating: 0, count: configuration.readBufferBytes)
        do {
            epollFD = try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        } catch {
            throw .system(error)
        }
        do {
            wakeFD = try syscall("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
        } catch {
            SocketOps.close(epollFD)
            throw .system(error)
        }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.u64 = 0
        do {
            _ = try syscall("epoll_ctl(ADD)", "eventfd") { epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &ev) }
        } catch {
            SocketOps.close(epollFD)
            SocketOps.close(wakeFD)
            throw .system(error)
        }
    }

    deinit {
        // A loop that never ran still owns its descriptors; one that ran closed them in teardown.
        if shared.withLock({ $0.phase == .idle }) {
            SocketOps.close(epollFD)
            SocketOps.close(wakeFD)
        }
    }

    // MARK: Thread identity

    public var inLoop: Bool { loopThread.load(ordering: .acquiring) == UInt(pthread_self()) }

    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "EventLoop: loop-owned object used off the loop thread", file: file, line: line)
    }

    // MARK: Lifecycle

    /// Runs the loop on a new thread. Returns immediately; tasks queued earlier run first.
    public func start(name: String = "raftkv-loop") {
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.start()
    }

    /// Runs the loop on the calling thread until `shutdown()`. Returns at once if the loop is
    /// already running elsewhere or was shut down.
    public func run() {
        let claimed = shared.withLock { s -> Bool in
            guard s.phase == .idle else { return false }
            s.phase = .running
            return true
        }
        guard claimed else { return }
        loopThread.store(UInt(pthread_self()), ordering: .releasing)

        var events = [epoll_event](repeating: epoll_event(), count: configuration.maxEventsPerWait)
        while true {
            let (stopping, hasTasks) = shared.withLock { ($0.stopping, !$0.tasks.isEmpty) }
            if stopping { break }
            let timeout: Int32 = hasTasks || !tickEnd.isEmpty ? 0 : timerTimeout()
            let capacity = Int32(events.count)
            let ready = (try? syscall("epoll_wait") {
                events.withUnsafeMutableBufferPointer { epoll_wait(epollFD, $0.baseAddress, capacity, timeout) }
            }) ?? 0
            for i in 0..<Int(ready) {
                let id = events[i].data.u64
                if id == 0 {
                    drainWake()
                } else if let handler = handlers[id] {
                    // Looked up per event: an earlier handler in this batch may have closed it.
                    // Bound first so no access to `handlers` spans the call (it may deregister).
                    handler.handleEvent(events[i].events)
                }
            }
            runTasks()
            runTimers()
            runTickEnd()
        }
        teardown()
    }

    /// Stops the loop: queued tasks run, then every listener/connection/watcher is closed
    /// (connections report `.loopShutdown`), descriptors are released and, when called off the
    /// loop thread, waits for the loop thread to finish. Idempotent.
    public func shutdown() {
        let phase = shared.withLock { s -> Phase in
            s.stopping = true
            let was = s.phase
            if was == .idle { s.phase = .stopped }
            return was
        }
        switch phase {
        case .idle:
            closeDescriptors()
        case .running:
            wake()
            if inLoop { return }  // cannot join ourselves: run() returns after this iteration
            exited.wait()
            exited.signal()  // let any other shutdown() callers through too
        case .stopped:
            return
        }
    }

    private func teardown() {
        let remaining = shared.withLock { s -> [@Sendable () -> Void] in
            s.stopping = true
            defer { s.tasks.removeAll() }
            return s.tasks
        }
        for task in remaining { task() }
        runTickEnd()  // flush writes those tasks made, best effort
        // Repeat until empty: a close callback may register something new (e.g. a reconnect).
        while let id = handlers.keys.min() {
            let handler = handlers.removeValue(forKey: id)
            handler?.loopIsClosing()
        }
        tickEnd.removeAll()
        timers.removeAll()
        closeDescriptors()
        loopThread.store(0, ordering: .releasing)
        shared.withLock { $0.phase = .stopped }
        exited.signal()
    }

    // MARK: Tasks

    /// Queues `work` to run on the loop thread (next iteration, FIFO).
    /// Throws `.queueFull` at capacity and `.loopShutdown` once `shutdown()` was called.
    public func execute(_ work: @escaping @Sendable () -> Void) throws(TransportError) {
        try enqueue(work, bounded: true)
    }

    /// `execute` without the capacity check, for a caller that bounds its own tasks (e.g. at
    /// most one background snapshot result in flight) and must not lose one to a full queue.
    /// Throws only `.loopShutdown`.
    public func executeReserved(_ work: @escaping @Sendable () -> Void) throws(TransportError) {
        try enqueue(work, bounded: false)
    }

    /// Runs `body` on the loop and waits for its result. Must not be called on the loop thread
    /// (it would deadlock). Handy for setup code and tests.
    public func submitAndWait<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        precondition(!inLoop, "submitAndWait on the loop thread would deadlock")
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<T, any Error>?>(nil)
        try execute {
            let r = Result { try body() }
            box.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }

    private func enqueue(_ work: @escaping @Sendable () -> Void, bounded: Bool) throws(TransportError) {
        let capacity = configuration.maxQueuedTasks
        let refusal = shared.withLock { s -> TransportError? in
            if s.stopping { return .loopShutdown }
            if bounded && s.tasks.count >= capacity { return .queueFull(capacity: capacity) }
            s.tasks.append(work)
            return nil
        }
        if let refusal { throw refusal }
        if !inLoop { wake() }  // the loop checks the queue before sleeping, so no wake needed from inside
    }

    private func runTasks() {
        let batch = shared.withLock { s -> [@Sendable () -> Void] in
            defer { s.tasks.removeAll(keepingCapacity: true) }
            return s.tasks
        }
        for task in batch { task() }
    }

    private func wake() {
        shared.withLock { s in
            guard !s.descriptorsClosed else { return }  // the loop has ended: nothing to wake
            var one: UInt64 = 1
            // EAGAIN means the counter is already non-zero: the loop will wake anyway.
            _ = try? syscallAllowingWouldBlock("write", "eventfd") { Glibc.write(wakeFD, &one, 8) }
        }
    }

    private func closeDescriptors() {
        shared.withLock { s in
            guard !s.descriptorsClosed else { return }
            s.descriptorsClosed = true
            SocketOps.close(epollFD)
            SocketOps.close(wakeFD)
        }
    }

    private func drainWake() {
        var value: UInt64 = 0
        _ = try? syscallAllowingWouldBlock("read", "eventfd") { Glibc.read(wakeFD, &value, 8) }
    }

    // MARK: Timers

    /// Runs `work` on the loop after `milliseconds` (monotonic clock). Timers with equal
    /// deadlines fire in scheduling order. Callable from any thread; after shutdown the returned
    /// handle is already cancelled.
    @discardableResult
    public func schedule(after milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> TimerHandle {
        addTimer(delay: milliseconds, interval: nil, work)
    }

    /// Runs `work` every `milliseconds` (at least 1), first after one interval, until cancelled.
    /// Missed ticks (a slow loop) are skipped rather than fired in a burst.
    @discardableResult
    public func scheduleRepeating(every milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> TimerHandle {
        let ms = max(1, milliseconds)
        return addTimer(delay: ms, interval: UInt64(ms) * 1_000_000, work)
    }

    private func addTimer(delay: Int, interval: UInt64?, _ work: @escaping @Sendable () -> Void) -> TimerHandle {
        let handle = TimerHandle()
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, delay)) * 1_000_000
        if inLoop {
            timers.insert(deadline: deadline, interval: interval, handle: handle, work: work)
        } else {
            do {
                // Unbounded: timers are few and a refused schedule would be a silent hole.
                try enqueue({ [self] in
                    timers.insert(deadline: deadline, interval: interval, handle: handle, work: work)
                }, bounded: false)
            } catch {
                handle.cancel()
            }
        }
        return handle
    }

    private func timerTimeout() -> Int32 {
        guard let deadline = timers.nextDeadline() else { return -1 }
        let now = MonotonicClock.nanoseconds()
        if deadline <= now { return 0 }
        let ms = (deadline - now + 999_999) / 1_000_000  // round up so we never wake early and spin
        return Int32(min(ms, UInt64(Int32.max)))
    }

    private func runTimers() {
        let now = MonotonicClock.nanoseconds()
        for entry in timers.popDue(now: now) {
            // Re-checked here: an earlier callback in this batch may have cancelled it.
            if entry.handle.isCancelled { continue }
            entry.work()
            if let interval = entry.intervalNanoseconds, !entry.handle.isCancelled {
                var next = entry.deadline + interval
                if next <= now { next = now + interval }
                timers.insert(deadline: next, interval: interval, handle: entry.handle, work: entry.work)
            }
        }
    }

    // MARK: Loop-internal registration

    /// Runs `body` at the end of the current iteration, before sleeping. Connections use it to
    /// coalesce all writes made during one iteration into one send.
    func deferToTickEnd(_ body: @escaping () -> Void) {
        assertInLoop()
        tickEnd.append(body)
    }

    private func runTickEnd() {
        while !tickEnd.isEmpty {
            let batch = tickEnd
            tickEnd.removeAll()
            for body in batch { body() }
        }
    }

    func register(fd: Int32, events: UInt32, handler: any EventHandler) throws(SystemError) -> UInt64 {
        assertInLoop()
        let id = nextID
        nextID += 1
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = id
        _ = try syscall("epoll_ctl(ADD)", "fd \(fd)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev) }
        handlers[id] = handler
        return id
    }

    func modify(fd: Int32, id: UInt64, events: UInt32) throws(SystemError) {
        assertInLoop()
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = id
        _ = try syscall("epoll_ctl(MOD)", "fd \(fd)") { epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &ev) }
    }

    /// Removes the handler; call before closing `fd`.
    func deregister(fd: Int32, id: UInt64) {
        assertInLoop()
        handlers[id] = nil
        _ = try? syscall("epoll_ctl(DEL)", "fd \(fd)") { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil) }
    }
}
