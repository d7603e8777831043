import Transport
import Wire
import XCTest
import KVClient

/// A server that refuses every connection the way kvd does at its connection limit: a
/// stream-level (request id 0) `busy` error, then close.
private func refusingServer(_ test: XCTestCase) throws -> (address: String, refused: Locked<Int>) {
    let loop = try EventLoop()
    loop.start(name: "busy-server")
    test.addTeardownBlock { loop.shutdown() }
    let refused = Locked(0)
    let port = try loop.submitAndWait {
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { conn in
            refused.with { $0 += 1 }
            conn.write(ClientReply.error(.busy).encodedFrame(requestID: 0))
            conn.closeAfterFlush()
        }
        return listener.port
    }
    return ("127.0.0.1:\(port)", refused)
}

final class ConnectionBusyTests: XCTestCase {
    func testConnectionLevelBusyFailsOverToAnotherEndpoint() async throws {
        let busy = try refusingServer(self)
        let good = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: [busy.address, good.address], commandTimeout: .seconds(5))
        defer { client.close() }
        for i in 0..<5 { try await client.put("k\(i)", "v") }
        let v = try await client.get("k4")
        XCTAssertEqual(v, "v")
        XCTAssertEqual(good.requests.count, 6)
    }

    func testOnlyBusyEndpointsReportServerBusyInPlainWords() async throws {
        let busy = try refusingServer(self)
        let client = try KVClient(endpoints: [busy.address], commandTimeout: .milliseconds(800))
        defer { client.close() }
        do {
            try await client.put("k", "v")
            XCTFail("a server that refuses every connection cannot store anything")
        } catch {
            XCTAssertTrue(error.description.contains("server busy"), error.description)
            XCTAssertFalse(error.description.contains("protocol violation"), error.description)
            XCTAssertFalse(error.outcomeUnknown, "a refused connection never ran the request")
        }
        XCTAssertGreaterThan(busy.refused.value, 1, "the client backed off and retried")
    }
}
