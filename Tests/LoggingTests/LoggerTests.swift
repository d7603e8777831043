import Glibc
import XCTest
@testable import Logging

final class LoggerTests: XCTestCase {
    private let fixedClock: @Sendable () -> (Int64, Int) = { (1_700_000_000, 7) }

    func testTimestamp() {
        XCTAssertEqual(iso8601UTC(secondsSinceEpoch: 0, milliseconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(iso8601UTC(secondsSinceEpoch: 1_700_000_000, milliseconds: 7), "2023-11-14T22:13:20.007Z")
        XCTAssertEqual(iso8601UTC(secondsSinceEpoch: 951_868_799, milliseconds: 999), "2000-02-29T23:59:59.999Z")
        XCTAssertEqual(iso8601UTC(secondsSinceEpoch: 4_102_444_800, milliseconds: 120), "2100-01-01T00:00:00.120Z")
        XCTAssertEqual(iso8601UTC(secondsSinceEpoch: -1, milliseconds: 0), "1969-12-31T23:59:59.000Z")
    }

    func testLineFormat() {
        let sink = LogSink.memory(clock: fixedClock)
        let log = Logger(component: "n1", level: .debug, sink: sink)
        log.info("became leader", ["term": 5, "votes": 3])
        log.child("raft").warn("slow fsync", ["took": "12 ms", "path": "/a=b", "empty": ""])
        log.error("bad\nline")
        XCTAssertEqual(sink.lines, [
            "2023-11-14T22:13:20.007Z info  n1: became leader term=5 votes=3",
            "2023-11-14T22:13:20.007Z warn  n1/raft: slow fsync took=\"12 ms\" path=\"/a=b\" empty=\"\"",
            "2023-11-14T22:13:20.007Z error n1: bad\\nline",
        ])
    }

    func testLevelFilter() {
        let sink = LogSink.memory(clock: fixedClock)
        let log = Logger(component: "c", level: .warn, sink: sink)
        var formatted = false
        log.debug({ formatted = true; return "d" }())
        log.info("i")
        log.warn("w")
        log.error("e")
        XCTAssertFalse(formatted, "disabled levels are not formatted")
        XCTAssertEqual(sink.lines.map { $0.split(separator: " ")[1] }, ["warn", "error"])
        XCTAssertEqual(log.withLevel(.debug).isEnabled(.debug), true)
        XCTAssertEqual(LogLevel(name: "WARNING"), .warn)
        XCTAssertNil(LogLevel(name: "loud"))
        XCTAssertEqual(LogLevel.names, ["debug", "info", "warn", "error"])
    }

    func testConcurrentWritersProduceWholeLines() async {
        let sink = LogSink.memory(clock: fixedClock)
        let log = Logger(component: "t", sink: sink)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<200 { log.info("msg", ["t": t, "i": i]) }
                }
            }
        }
        let lines = sink.lines
        XCTAssertEqual(lines.count, 1600)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("2023-11-14T22:13:20.007Z info  t: msg t=") })
    }

    func testFileDescriptorSinkWritesWholeLines() throws {
        // The sink standardError() uses, pointed at a pipe so the bytes can be read back.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let log = Logger(component: "test", level: .info, sink: .fileDescriptor(fds[1], clock: fixedClock))
        log.info("logger pipe test", ["ok": true])
        log.debug("filtered")
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        XCTAssertEqual(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self),
                       "2023-11-14T22:13:20.007Z info  test: logger pipe test ok=true\n")
    }
}
