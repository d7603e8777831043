import Dispatch
import Glibc
import Transport
import XCTest

/// Loop-confined list of accepted connections (touched only in loop tasks and callbacks).
private final class Accepted: @unchecked Sendable {
    var connections: [TCPConnection] = []
    var bytesRead = 0
    var closeErrors: [TransportError?] = []
}

/// A blocking client socket that the test reads only when it chooses to.
private func dial(_ port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return fd
}

final class BackpressureTests: XCTestCase {
    /// A peer that sends requests and never reads its replies stops being read: its requests
    /// wait in TCP, its sends block, and our queue stays near the pause mark.
    func testAConnectionWhoseRepliesAreNotReadStopsBeingRead() throws {
        let loop = try startedLoop(self)
        let state = Accepted()
        let reply = [UInt8](repeating: 7, count: 64 << 10)
        // At most 16 one-byte requests per wake-up, so one read adds at most 1 MiB of replies.
        let options = TCPConnection.Options(maxOutboundBytes: 1 << 30, maxReadBytesPerWake: 16,
                                            pauseReadingAboveOutboundBytes: 256 << 10)
        let port = try loop.submitAndWait {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0, connectionOptions: options) { c in
                state.connections.append(c)
                // Every byte in is a "request" answered with 64 KiB.
                c.onBytes = { [unowned c] bytes in
                    state.bytesRead += bytes.count
                    for _ in bytes { c.write(reply) }
                }
            }.port
        }
        let fd = dial(port)
        defer { close(fd) }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        // Send one-byte requests, 64 KiB at a time, until the kernel refuses more: that only
        // happens once the server stopped reading.
        var sent = 0
        let chunk = [UInt8](repeating: 1, count: 64 << 10)
        let deadline = Date().addingTimeInterval(20)
        var refusedInARow = 0
        while Date() < deadline && refusedInARow < 3 {
            let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                refusedInARow = 0
            } else if errno == EAGAIN {
                refusedInARow += 1  // full for a moment, or for good? let the server read more
                usleep(50_000)
            } else {
                XCTFail("send failed: errno \(errno)")
                break
            }
        }
        let (read, queued, paused) = try loop.submitAndWait {
            (state.bytesRead, state.connections[0].pendingOutboundBytes, state.connections[0].isReadingPaused)
        }
        XCTAssertTrue(paused, "reading must pause while replies pile up")
        XCTAssertLessThan(read, sent, "unread requests wait in TCP, not in our memory")
        // The queue stops growing just past the pause mark: at most one read's worth of replies more.
        XCTAssertLessThanOrEqual(queued, (256 << 10) + 16 * reply.count)
        // Draining the replies resumes reading.
        let before = read
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        let resumeDeadline = Date().addingTimeInterval(20)
        var resumed = false
        while Date() < resumeDeadline && !resumed {
            _ = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            resumed = try loop.submitAndWait { state.bytesRead > before }
        }
        XCTAssertTrue(resumed, "reading resumes once the replies drain")
    }

    /// Past the shared budget the connection holding the most is closed; a reader that keeps
    /// up is never the one cut off.
    func testSharedBudgetEvictsTheLargestHolderOnly() throws {
        let loop = try startedLoop(self)
        let state = Accepted()
        let budget = OutboundBudget(limit: 24 << 20)
        let options = TCPConnection.Options(maxOutboundBytes: 1 << 30, budget: budget)
        let port = try loop.submitAndWait {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0, connectionOptions: options) { c in
                state.connections.append(c)
                c.onClose = { e in state.closeErrors.append(e) }
            }.port
        }
        let hogA = dial(port), hogB = dial(port), good = dial(port)
        defer { close(hogA); close(hogB); close(good) }
        XCTAssertTrue(waitUntil { (try? loop.submitAndWait { state.connections.count }) == 3 })
        let big = [UInt8](repeating: 1, count: 20 << 20)
        try loop.submitAndWait {
            state.connections[0].write(big)
            state.connections[1].write(big)
        }
        try loop.submitAndWait { _ = state.connections[2].write(Array("hello".utf8)) }
        var buf = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(buf.withUnsafeMutableBytes { recv(good, $0.baseAddress, 5, Int32(MSG_WAITALL)) }, 5)
        let (errors, used, goodOpen) = try loop.submitAndWait {
            (state.closeErrors, budget.used, state.connections[2].isOpen)
        }
        XCTAssertEqual(errors.count, 1, "exactly one hog is cut: \(errors)")
        if case .outboundBufferFull? = errors.first ?? nil {} else { XCTFail("expected outboundBufferFull, got \(errors)") }
        XCTAssertLessThanOrEqual(used, budget.limit)
        XCTAssertTrue(goodOpen)
        XCTAssertEqual(budget.evictions, 1)
    }
}
