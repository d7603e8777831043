import Dispatch
import Transport
import XCTest

final class EventLoopTests: XCTestCase {
    func testExecuteFromManyThreads() throws {
        let loop = try startedLoop(self)
        // Loop-confined counter: only touched inside executed tasks, so no lock is needed;
        // the Locked box just lets the test thread read it afterwards.
        let counter = Locked(0)
        let threads = 8, perThread = 500
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread {
                while true {
                    do {
                        try loop.execute {
                            precondition(loop.inLoop)
                            counter.with { $0 += 1 }
                        }
                        break
                    } catch {
                        usleep(100)  // queue full under contention: retry
                    }
                }
            }
        }
        let total = try loop.submitAndWait { counter.value }
        XCTAssertEqual(total, threads * perThread)
        XCTAssertFalse(loop.inLoop)
    }

    func testExecuteQueueIsBoundedAndRejectsAfterShutdown() throws {
        let loop = try EventLoop(configuration: .init(maxQueuedTasks: 3))
        // Not started: tasks accumulate.
        for _ in 0..<3 { try loop.execute {} }
        XCTAssertThrowsError(try loop.execute {}) { error in
            XCTAssertEqual(error as? TransportError, .queueFull(capacity: 3))
        }
        let ran = Locked(0)
        let loop2 = try EventLoop()
        try loop2.execute { ran.with { $0 += 1 } }
        loop2.start()
        XCTAssertTrue(waitUntil { ran.value == 1 })
        loop2.shutdown()
        XCTAssertThrowsError(try loop2.execute {}) { error in
            XCTAssertEqual(error as? TransportError, .loopShutdown)
        }
        loop.shutdown()  // never ran: just releases descriptors
        loop.shutdown()  // idempotent
    }

    func testTimersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try startedLoop(self)
        let fired = Locked<[String]>([])
        let handles = try loop.submitAndWait { () -> [TimerHandle] in
            // Scheduled in one loop turn, so the deadlines are ordered as the delays are.
            [
                loop.schedule(after: 60) { fired.with { $0.append("c") } },
                loop.schedule(after: 20) { fired.with { $0.append("a") } },
                loop.schedule(after: 40) { fired.with { $0.append("cancelled") } },
                loop.schedule(after: 40) { fired.with { $0.append("b") } },
                loop.schedule(after: 20) { fired.with { $0.append("a2") } },
                loop.schedule(after: 80) { fired.with { $0.append("d") } },
            ]
        }
        handles[2].cancel()
        XCTAssertTrue(waitUntil { fired.value.count == 5 })
        usleep(100_000)  // time for a wrongly-live cancelled timer to show up
        XCTAssertEqual(fired.value, ["a", "a2", "b", "c", "d"])
    }

    func testTimerCancelledByEarlierCallbackInSameBatchDoesNotFire() throws {
        let loop = try startedLoop(self)
        let fired = Locked<[Int]>([])
        try loop.submitAndWait {
            let second = Locked<TimerHandle?>(nil)
            loop.schedule(after: 10) {
                fired.with { $0.append(1) }
                second.value?.cancel()
            }
            second.with { $0 = loop.schedule(after: 10) { fired.with { $0.append(2) } } }
        }
        XCTAssertTrue(waitUntil { !fired.value.isEmpty })
        usleep(50_000)
        XCTAssertEqual(fired.value, [1])
    }

    func testRepeatingTimerRunsUntilCancelled() throws {
        let loop = try startedLoop(self)
        let ticks = Locked(0)
        let handle = loop.scheduleRepeating(every: 5) { ticks.with { $0 += 1 } }  // off-loop scheduling
        XCTAssertTrue(waitUntil { ticks.value >= 3 })
        handle.cancel()
        let after = try loop.submitAndWait { ticks.value }
        usleep(50_000)
        XCTAssertEqual(ticks.value, after)
        XCTAssertTrue(handle.isCancelled)
    }

    func testScheduleAfterShutdownReturnsCancelledHandle() throws {
        let loop = try EventLoop()
        loop.start()
        loop.shutdown()
        XCTAssertTrue(loop.schedule(after: 1) {}.isCancelled)
    }

    func testMonotonicClockAdvances() {
        let a = MonotonicClock.nanoseconds()
        usleep(2_000)
        XCTAssertGreaterThan(MonotonicClock.nanoseconds(), a)
    }
}
