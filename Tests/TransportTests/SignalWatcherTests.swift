import Glibc
import Transport
import XCTest

final class SignalWatcherTests: XCTestCase {
    func testSignalIsDeliveredOnTheLoop() throws {
        let loop = try startedLoop(self)
        let received = Locked<[Int32]>([])
        try loop.submitAndWait {
            let watcher = try SignalWatcher(loop: loop, signals: [SIGUSR1]) { signal in
                precondition(loop.inLoop)
                received.with { $0.append(signal) }
            }
            XCTAssertEqual(watcher.signals, [SIGUSR1])
            // raise() targets the calling (loop) thread, where the watcher blocked SIGUSR1:
            // the signal stays pending for signalfd instead of killing the test process.
            raise(SIGUSR1)
        }
        XCTAssertTrue(waitUntil { received.value == [SIGUSR1] })
    }
}
