import Logging
@testable import Server
import XCTest

final class LimitsTests: XCTestCase {
    func testAdmissionCapsPerAddressAndOverall() {
        var a = ConnectionAdmission(maxTotal: 5, maxPerAddress: 2)
        XCTAssertNil(a.admit(host: "10.0.0.1"))
        XCTAssertNil(a.admit(host: "10.0.0.1"))
        XCTAssertEqual(a.admit(host: "10.0.0.1"), .perAddress(host: "10.0.0.1", limit: 2))
        XCTAssertNil(a.admit(host: "10.0.0.2"))
        XCTAssertNil(a.admit(host: "10.0.0.3"))
        XCTAssertNil(a.admit(host: "10.0.0.3"))
        XCTAssertEqual(a.admit(host: "10.0.0.4"), .total(limit: 5))
        a.release(host: "10.0.0.1")
        XCTAssertEqual(a.count(from: "10.0.0.1"), 1)
        XCTAssertNil(a.admit(host: "10.0.0.4"), "a released slot is free again")
        XCTAssertEqual(a.total, 5)
        XCTAssertEqual(ConnectionAdmission.host(of: "127.0.0.2:40000"), "127.0.0.2")
    }

    func testDescriptorBudgetKeepsTheReserveOutOfClientHands() throws {
        let roomy = try XCTUnwrap(DescriptorBudget(limit: 1_048_576, members: 3, maxPeerConnections: 22, maxClientConnections: 4_096))
        XCTAssertEqual(roomy.clientConnections, 4_096, "the configured cap holds when descriptors are plenty")
        let tight = try XCTUnwrap(DescriptorBudget(limit: 1_024, members: 3, maxPeerConnections: 22, maxClientConnections: 4_096))
        XCTAssertEqual(tight.reserved, DescriptorBudget.reserve(members: 3))
        XCTAssertEqual(tight.reserved + tight.peerConnections + tight.clientConnections, 1_024, "clients get only what is left")
        XCTAssertNil(DescriptorBudget(limit: 80, members: 3, maxPeerConnections: 22, maxClientConnections: 4_096),
                     "a limit that leaves no room is refused at start-up")
    }

    func testRepeatedWarningsAreRateLimitedWithASuppressedCount() {
        let sink = LogSink.memory()
        let log = ServerLog(logger: Logger(component: "n1", level: .info, sink: sink), repeatWindowMilliseconds: 200)
        for _ in 0..<1_000 { log.limited(.warn, cause: "peer-refused", "refusing peer connection", ["limit": 22]) }
        log.limited(.warn, cause: "other", "a different cause is not held back")
        XCTAssertEqual(sink.lines.count, 2, sink.lines.joined(separator: "\n"))
        usleep(250_000)
        log.limited(.warn, cause: "peer-refused", "refusing peer connection", ["limit": 22])
        XCTAssertEqual(sink.lines.count, 3)
        XCTAssertTrue(sink.lines[2].contains("suppressed=999"), sink.lines[2])
    }
}
