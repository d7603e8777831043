import Glibc
import Transport
import XCTest

final class PeerLinkTests: XCTestCase {
    func testBackoffGrowsWithJitterUpToMaxAndResets() {
        var backoff = Backoff(minMilliseconds: 10, maxMilliseconds: 100)
        var random = TestRandom(state: 42)
        let ceilings = [10, 20, 40, 80, 100, 100, 100]
        for ceiling in ceilings {
            XCTAssertEqual(backoff.currentCeiling, ceiling)
            let d = backoff.nextDelay(using: &random)
            XCTAssertTrue((ceiling / 2)...ceiling ~= d, "\(d) not in \(ceiling / 2)...\(ceiling)")
        }
        backoff.reset()
        XCTAssertEqual(backoff.currentCeiling, 10)
        // Same seed, same delays: jitter comes only from the injected source.
        var a = Backoff(minMilliseconds: 5, maxMilliseconds: 10_000), b = a
        var ra = TestRandom(state: 7), rb = TestRandom(state: 7)
        XCTAssertEqual((0..<20).map { _ in a.nextDelay(using: &ra) }, (0..<20).map { _ in b.nextDelay(using: &rb) })
        // Huge attempt counts must not overflow.
        var big = Backoff(minMilliseconds: 1_000, maxMilliseconds: 60_000)
        for _ in 0..<100 { _ = big.nextDelay(using: &ra) }
        XCTAssertEqual(big.currentCeiling, 60_000)
    }

    func testReconnectsAfterServerRestartAndFlushesQueueAfterHandshake() throws {
        let loop = try startedLoop(self)
        let serverReceived = Locked<[UInt8]>([])
        let accepted = Locked<[TCPConnection]>([])
        @Sendable func listen(_ port: Int) throws -> TCPListener {
            try TCPListener(loop: loop, host: "127.0.0.1", port: port) { c in
                accepted.with { $0.append(c) }
                c.onBytes = { bytes in serverReceived.with { $0 += bytes } }
            }
        }
        let listener = Locked<TCPListener?>(try loop.submitAndWait { try listen(0) })
        let port = try XCTUnwrap(listener.value).port

        let connects = Locked(0), disconnects = Locked(0), failures = Locked(0)
        let link = try loop.submitAndWait { () -> PeerLink in
            let config = PeerLink.Configuration(address: try SocketAddress(host: "127.0.0.1", port: port),
                                                connectTimeoutMilliseconds: 1_000,
                                                minBackoffMilliseconds: 10, maxBackoffMilliseconds: 80)
            let link = PeerLink(loop: loop, configuration: config, random: TestRandom(state: 1))
            link.onConnected = { c in
                connects.with { $0 += 1 }
                c.write(Array("H".utf8))  // handshake goes before anything queued
            }
            link.onDisconnected = { _ in disconnects.with { $0 += 1 } }
            link.onConnectFailed = { _, _ in failures.with { $0 += 1 } }
            link.start()
            return link
        }
        XCTAssertTrue(waitUntil { connects.value == 1 })
        try loop.submitAndWait { XCTAssertEqual(link.send(Array("1".utf8)), .written) }
        XCTAssertTrue(waitUntil { serverReceived.value == Array("H1".utf8) })

        // Server goes away: listener and its connections close.
        try loop.submitAndWait {
            listener.value?.close()
            accepted.value.forEach { $0.close() }
        }
        XCTAssertTrue(waitUntil { disconnects.value == 1 })
        XCTAssertTrue(waitUntil { failures.value >= 1 })  // refused while the server is down
        let queuedWhileDown = try loop.submitAndWait { () -> PeerLink.SendOutcome in
            XCTAssertFalse(link.isConnected)
            return link.send(Array("2".utf8))
        }
        XCTAssertEqual(queuedWhileDown, .queued(dropped: 0))

        // Server comes back on the same port.
        try loop.submitAndWait { let l = try listen(port); listener.with { $0 = l } }
        XCTAssertTrue(waitUntil { connects.value == 2 })
        XCTAssertTrue(waitUntil { serverReceived.value == Array("H1H2".utf8) })
        try loop.submitAndWait {
            XCTAssertEqual(link.queuedMessages, 0)
            link.stop()
            XCTAssertEqual(link.send([9]), .rejected)
        }
        XCTAssertEqual(disconnects.value, 1)  // stop() does not report a disconnect
    }

    func testQueueWhileDisconnectedDropsOldest() throws {
        let loop = try startedLoop(self)
        let port = try loop.submitAndWait {
            let l = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            l.close()
            return l.port
        }
        let drops = Locked(0)
        let outcomes = try loop.submitAndWait { () -> [PeerLink.SendOutcome] in
            let config = PeerLink.Configuration(address: try SocketAddress(host: "127.0.0.1", port: port),
                                                minBackoffMilliseconds: 1_000, maxBackoffMilliseconds: 1_000,
                                                maxQueuedMessages: 3, maxQueuedBytes: 10)
            let link = PeerLink(loop: loop, configuration: config, random: TestRandom(state: 3))
            link.onDrop = { n in drops.with { $0 += n } }
            link.start()
            let results = [
                link.send([1]), link.send([2]), link.send([3]),
                link.send([4]),  // over 3 messages: drops [1]
                link.send([UInt8](repeating: 5, count: 8)),  // 11 bytes > 10: drops [2]
                link.send([UInt8](repeating: 6, count: 11)),  // alone exceeds the byte bound
            ]
            XCTAssertEqual(link.queuedMessages, 3)
            XCTAssertEqual(link.droppedMessages, 3)
            link.stop()
            return results
        }
        XCTAssertEqual(outcomes, [.queued(dropped: 0), .queued(dropped: 0), .queued(dropped: 0),
                                  .queued(dropped: 1), .queued(dropped: 1), .rejected])
        XCTAssertEqual(drops.value, 3)
    }
}
