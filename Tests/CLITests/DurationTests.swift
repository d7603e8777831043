import XCTest
@testable import CLI

final class DurationTests: XCTestCase {
    func testParse() {
        XCTAssertEqual(parseDuration("100ms"), .milliseconds(100))
        XCTAssertEqual(parseDuration("2s"), .seconds(2))
        XCTAssertEqual(parseDuration("1m"), .seconds(60))
        XCTAssertEqual(parseDuration("1h"), .seconds(3600))
        XCTAssertEqual(parseDuration("1m30s"), .seconds(90))
        XCTAssertEqual(parseDuration("1.5s"), .milliseconds(1500))
        XCTAssertEqual(parseDuration("250us"), .microseconds(250))
        XCTAssertEqual(parseDuration("250µs"), .microseconds(250))
        XCTAssertEqual(parseDuration("7ns"), .nanoseconds(7))
        XCTAssertEqual(parseDuration("0"), .zero)
        XCTAssertEqual(parseDuration("0s"), .zero)
        XCTAssertEqual(parseDuration("1h2m3s4ms"), .milliseconds(3_723_004))
    }

    func testRejects() {
        for bad in ["", "5", "s", "ms", "1x", "-1s", "+1s", "1.2.3s", "1 s", "1S", "1e3s", ".s", "1sm",
                    "100000000000h", String(repeating: "1", count: 100) + "s"] {
            XCTAssertNil(parseDuration(bad), bad)
        }
    }

    func testFormat() {
        XCTAssertEqual(formatDuration(.zero), "0s")
        XCTAssertEqual(formatDuration(.milliseconds(100)), "100ms")
        XCTAssertEqual(formatDuration(.seconds(90)), "1m30s")
        XCTAssertEqual(formatDuration(.seconds(3600)), "1h")
        XCTAssertEqual(formatDuration(.milliseconds(1500)), "1500ms")
        XCTAssertEqual(formatDuration(.microseconds(3)), "3us")
        for d: Duration in [.milliseconds(100), .seconds(90), .seconds(7322), .nanoseconds(5)] {
            XCTAssertEqual(parseDuration(formatDuration(d)), d)
        }
    }
}
