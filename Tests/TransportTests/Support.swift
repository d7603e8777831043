import Dispatch
import Synchronization
import Transport
import XCTest

/// Thread-safe holder for values produced on the loop and checked on the test thread.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func with<R: Sendable>(_ body: @Sendable (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// A started loop, shut down when the test ends.
func startedLoop(_ test: XCTestCase, configuration: EventLoop.Configuration = .init()) throws -> EventLoop {
    let loop = try EventLoop(configuration: configuration)
    loop.start()
    test.addTeardownBlock { loop.shutdown() }
    return loop
}

/// Polls `condition` until true or `timeout` seconds pass (generous; never asserts on speed).
func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

/// Listener that echoes every byte back; returns its port.
func startEchoServer(on loop: EventLoop) throws -> Int {
    try loop.submitAndWait {
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { connection in
            connection.onBytes = { [unowned connection] bytes in connection.write(bytes) }
        }
        return listener.port
    }
}

/// Deterministic generator for jitter tests (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
