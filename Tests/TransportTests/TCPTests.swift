import Dispatch
import Glibc
import Transport
import XCTest

final class TCPTests: XCTestCase {
    /// Connects on the loop and returns the connection; fails the test on error.
    private func connect(_ loop: EventLoop, port: Int, timeout: Int = 5_000,
                         options: TCPConnection.Options = .init()) throws -> TCPConnection {
        let result = Locked<Result<TCPConnection, TransportError>?>(nil)
        try loop.execute {
            let address = try! SocketAddress(host: "127.0.0.1", port: port)
            TCPConnection.connect(to: address, on: loop, timeoutMilliseconds: timeout, options: options) { r in
                result.with { $0 = r }
            }
        }
        XCTAssertTrue(waitUntil { result.value != nil })
        return try XCTUnwrap(result.value).get()
    }

    private func connectResult(_ loop: EventLoop, address: SocketAddress, timeout: Int) -> Result<TCPConnection, TransportError>? {
        let result = Locked<Result<TCPConnection, TransportError>?>(nil)
        try? loop.execute {
            TCPConnection.connect(to: address, on: loop, timeoutMilliseconds: timeout) { r in
                if case .success(let c) = r { c.close() }
                result.with { $0 = r }
            }
        }
        _ = waitUntil { result.value != nil }
        return result.value
    }

    func testEchoRoundTrip() throws {
        let loop = try startedLoop(self)
        let port = try startEchoServer(on: loop)
        let client = try connect(loop, port: port)
        let received = Locked<[UInt8]>([])
        try loop.submitAndWait {
            client.onBytes = { bytes in received.with { $0 += bytes } }
            XCTAssertTrue(client.write(Array("hello, ".utf8)))
            XCTAssertTrue(client.write(Array("raft".utf8)[...]))
            XCTAssertTrue(client.peerAddress.hasSuffix(":\(port)"))
        }
        XCTAssertTrue(waitUntil { received.value.count == 11 })
        XCTAssertEqual(String(decoding: received.value, as: UTF8.self), "hello, raft")
    }

    func testManyConcurrentConnections() throws {
        let loop = try startedLoop(self)
        let port = try startEchoServer(on: loop)
        let count = 64
        let replies = Locked<[Int: [UInt8]]>([:])
        let failures = Locked<[TransportError]>([])
        try loop.execute {
            let address = try! SocketAddress(host: "127.0.0.1", port: port)
            for i in 0..<count {
                TCPConnection.connect(to: address, on: loop) { result in
                    switch result {
                    case .failure(let e): failures.with { $0.append(e) }
                    case .success(let c):
                        c.onBytes = { bytes in replies.with { $0[i, default: []] += bytes } }
                        c.write(Array("client-\(i);".utf8))
                    }
                }
            }
        }
        let done = waitUntil {
            replies.value.count == count && replies.value.allSatisfy { $0.value.last == UInt8(ascii: ";") }
        }
        XCTAssertTrue(done)
        XCTAssertEqual(failures.value, [])
        for (i, bytes) in replies.value {
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "client-\(i);")
        }
    }

    func testLargeWriteArrivesIntactAndInOrder() throws {
        let loop = try startedLoop(self)
        let size = 6 << 20
        let received = Locked<[UInt8]>([])
        let closes = Locked(0)
        let port = try loop.submitAndWait {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { c in
                c.onBytes = { bytes in received.with { $0 += bytes } }
                c.onClose = { _ in closes.with { $0 += 1 } }
            }
            return listener.port
        }
        let client = try connect(loop, port: port)
        var payload = [UInt8](repeating: 0, count: size)
        for i in 0..<size { payload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 13) }
        let expected = payload
        try loop.submitAndWait {
            // Several writes in one turn: coalesced, then drained on EPOLLOUT.
            XCTAssertTrue(client.write(expected[0..<1000]))
            XCTAssertTrue(client.write(Array(expected[1000..<(4 << 20)])))
            XCTAssertTrue(client.write(expected[(4 << 20)...]))
            client.closeAfterFlush()
        }
        XCTAssertTrue(waitUntil { closes.value == 1 })
        XCTAssertEqual(received.value.count, size)
        XCTAssertTrue(received.value == expected, "payload corrupted or reordered")
    }

    func testCloseAfterFlushOfASmallReplyReleasesTheDescriptorAtOnce() throws {
        let loop = try startedLoop(self)
        let received = Locked<[UInt8]>([])
        let port = try loop.submitAndWait {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { c in
                c.onBytes = { bytes in received.with { $0 += bytes } }
            }.port
        }
        let client = try connect(loop, port: port)
        try loop.submitAndWait {
            // A refusal notice: written and closed in the same turn, as the gateway does for
            // connections over its cap. The descriptor must be gone before the turn ends.
            XCTAssertTrue(client.write([7, 7, 7]))
            client.closeAfterFlush()
            XCTAssertFalse(client.isOpen, "a closing connection with a small reply must not wait for the tick end")
        }
        XCTAssertTrue(waitUntil { received.value == [7, 7, 7] }, "the notice still arrives")
    }

    func testPeerCloseFiresOnCloseExactlyOnce() throws {
        let loop = try startedLoop(self)
        let serverCloses = Locked<[TransportError?]>([])
        let clientCloses = Locked<[TransportError?]>([])
        let accepted = Locked<TCPConnection?>(nil)
        let port = try loop.submitAndWait {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { c in
                c.onClose = { e in serverCloses.with { $0.append(e) } }
                accepted.with { $0 = c }
            }.port
        }
        let client = try connect(loop, port: port)
        XCTAssertTrue(waitUntil { accepted.value != nil })
        try loop.submitAndWait {
            client.onClose = { e in clientCloses.with { $0.append(e) } }
            client.close()
            client.close()  // second close is a no-op
            XCTAssertFalse(client.write([1, 2, 3]))
            XCTAssertFalse(client.isOpen)
        }
        XCTAssertTrue(waitUntil { serverCloses.value.count == 1 })
        try loop.submitAndWait {
            accepted.value?.close()  // already closed by the peer's EOF: no second callback
        }
        usleep(50_000)
        XCTAssertEqual(serverCloses.value.count, 1)
        XCTAssertEqual(serverCloses.value.first ?? .loopShutdown, nil)
        XCTAssertEqual(clientCloses.value.count, 1)
    }

    func testShutdownClosesConnectionsWithLoopShutdown() throws {
        let loop = try EventLoop()
        loop.start()
        let port = try startEchoServer(on: loop)
        let client = try connect(loop, port: port)
        let closes = Locked<[TransportError?]>([])
        try loop.submitAndWait { client.onClose = { e in closes.with { $0.append(e) } } }
        loop.shutdown()
        XCTAssertEqual(closes.value.count, 1)
        XCTAssertEqual(closes.value.first ?? nil, .loopShutdown)
    }

    func testConnectToClosedPortIsRefused() throws {
        let loop = try startedLoop(self)
        // Bind then close to get a port nobody listens on.
        let port = try loop.submitAndWait {
            let l = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            l.close()
            return l.port
        }
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        let result = connectResult(loop, address: address, timeout: 5_000)
        guard case .failure(let error) = result else { return XCTFail("expected refusal, got \(String(describing: result))") }
        XCTAssertEqual(error, .connectionRefused(address: "127.0.0.1:\(port)"))
    }

    /// A listener whose accept queue is full drops new SYNs (Linux), so the connect can only
    /// end by our timer: deterministic on loopback.
    func testConnectTimeout() throws {
        let loop = try startedLoop(self)
        let (listenFD, port) = try rawListenerThatNeverAccepts()
        defer { close(listenFD) }
        let fillers = blockingConnects(port: port, count: 2)
        defer { fillers.forEach { close($0) } }
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        let result = connectResult(loop, address: address, timeout: 200)
        guard case .failure(let error) = result else { return XCTFail("expected timeout, got \(String(describing: result))") }
        XCTAssertEqual(error, .connectTimeout(address: address.description, milliseconds: 200))
    }

    func testOutboundLimitClosesWithTypedError() throws {
        let loop = try startedLoop(self)
        let port = try startEchoServer(on: loop)
        let options = TCPConnection.Options(maxOutboundBytes: 1 << 20)
        let client = try connect(loop, port: port, options: options)
        let closes = Locked<[TransportError?]>([])
        let accepted = try loop.submitAndWait { () -> [Bool] in
            client.onClose = { e in closes.with { $0.append(e) } }
            let chunk = [UInt8](repeating: 7, count: 600 << 10)
            // Both in one turn: nothing is flushed in between, so the second overflows.
            return [client.write(chunk), client.write(chunk)]
        }
        XCTAssertEqual(accepted, [true, false])
        XCTAssertEqual(closes.value.count, 1)
        XCTAssertEqual(closes.value.first ?? nil, .outboundBufferFull(peer: client.peerAddress, limit: 1 << 20))
    }

    func testListenerOnPortInUseGivesTypedError() throws {
        let loop = try startedLoop(self)
        let outcome = try loop.submitAndWait { () -> (Int, TransportError?) in
            let first = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            do {
                _ = try TCPListener(loop: loop, host: "127.0.0.1", port: first.port) { _ in }
                return (first.port, nil)
            } catch {
                return (first.port, error as? TransportError)
            }
        }
        XCTAssertEqual(outcome.1, .addressInUse(address: "127.0.0.1:\(outcome.0)"))
    }

    func testBadAddresses() {
        XCTAssertThrowsError(try SocketAddress(parsing: "no-port")) { XCTAssertBadAddress($0) }
        XCTAssertThrowsError(try SocketAddress(parsing: "example.com:80")) { XCTAssertBadAddress($0) }
        XCTAssertThrowsError(try SocketAddress(parsing: "127.0.0.1:70000")) { XCTAssertBadAddress($0) }
        XCTAssertThrowsError(try SocketAddress(parsing: "127.0.0.1:http")) { XCTAssertBadAddress($0) }
        XCTAssertEqual(try SocketAddress(parsing: "localhost:7000").description, "127.0.0.1:7000")
        XCTAssertEqual(try SocketAddress(parsing: "10.1.2.3:0").port, 0)
    }

    func testListenerOnNonLocalAddressGivesBadAddress() throws {
        let loop = try startedLoop(self)
        let error = try loop.submitAndWait { () -> TransportError? in
            do {
                _ = try TCPListener(loop: loop, host: "192.0.2.1", port: 0) { _ in }  // TEST-NET-1
                return nil
            } catch {
                return error as? TransportError
            }
        }
        guard case .badAddress = error else { return XCTFail("got \(String(describing: error))") }
    }
}

private func XCTAssertBadAddress(_ error: any Error, file: StaticString = #filePath, line: UInt = #line) {
    guard case .badAddress = error as? TransportError else {
        return XCTFail("expected badAddress, got \(error)", file: file, line: line)
    }
}

/// A blocking listening socket with backlog 0 that nobody accepts from: once its accept
/// queue holds one connection, Linux drops further SYNs.
private func rawListenerThatNeverAccepts() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var sin = loopbackAddress(port: 0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && listen(fd, 0) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { close(fd); throw XCTSkip("could not set up raw listener") }
    return (fd, Int(UInt16(bigEndian: sin.sin_port)))
}

/// Blocking connects bounded by SO_SNDTIMEO, so a dropped SYN cannot hang the test.
private func blockingConnects(port: Int, count: Int) -> [Int32] {
    (0..<count).map { _ in
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sin = loopbackAddress(port: port)
        _ = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return fd
    }
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = UInt16(port).bigEndian
    sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return sin
}
