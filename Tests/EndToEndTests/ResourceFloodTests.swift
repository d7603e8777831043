import Foundation
import Glibc
import KVClient
import XCTest

/// Connection floods against a real kvd whose descriptor limit is low: it stays up, keeps
/// committing (and snapshotting), and refuses what does not fit instead of dying.
final class ResourceFloodTests: XCTestCase {
    /// Opens a loopback connection from `source` to `port`; nil once the kernel refuses.
    private func open(_ port: Int, from source: String) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var local = sockaddr_in(), remote = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = UInt16(port).bigEndian
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafePointer(to: &local) { l in
            withUnsafePointer(to: &remote) { r in
                l.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } == 0
                    && r.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } == 0
            }
        }
        if !ok { close(fd); return nil }
        return fd
    }

    private func descriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    func testLowDescriptorLimitFloodKeepsCommittingAndSnapshotting() async throws {
        let kvd = try Binaries.kvd()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("raftkv-fdflood-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ports = freePorts(2)
        let logURL = dir.appendingPathComponent("n1.log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let p = Process()
        // `ulimit -n` sets the soft and the hard limit: kvd cannot raise past 200.
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n 200 && exec \"$0\" \"$@\"", kvd.path,
                       "--name", "n1", "--data-dir", dir.appendingPathComponent("n1").path,
                       "--listen-client", "127.0.0.1:\(ports[0])", "--listen-peer", "127.0.0.1:\(ports[1])",
                       "--tick-ms", "20", "--snapshot-count", "10", "--log-level", "info"]
        p.standardOutput = log
        p.standardError = log
        try p.run()
        var flood: [Int32] = []
        addTeardownBlock {
            for fd in flood { close(fd) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
            try? FileManager.default.removeItem(at: dir)
        }
        let logText = { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
        let client = try KVClient(configuration: KVClientConfiguration(
            endpoints: ["127.0.0.1:\(ports[0])"], dialTimeout: .milliseconds(500), commandTimeout: .seconds(15)))
        defer { client.close() }
        try await client.put("warm-up", "1")

        // Flood both ports from other addresses: far more connections than descriptors, from
        // enough addresses to fill every client slot (the per-address cap alone is not the defence).
        for i in 0..<300 { if let fd = open(ports[0], from: "127.0.0.\(2 + i % 8)") { flood.append(fd) } }
        for _ in 0..<120 { if let fd = open(ports[1], from: "127.0.0.20") { flood.append(fd) } }
        XCTAssertGreaterThan(flood.count, 200, "the flood must exceed the descriptor limit")

        // Keep committing through it: 100 puts make about ten snapshots, each needing fresh descriptors.
        for i in 0..<100 {
            do {
                try await client.put("k\(i)", "v\(i)")
            } catch {
                return XCTFail("put \(i) failed under the flood: \(error)\n\(logText().suffix(3000))")
            }
        }
        let fds = descriptors(of: p.processIdentifier)
        XCTAssertLessThan(fds, 200, "the reserve stays free")
        XCTAssertTrue(p.isRunning, "kvd must survive the flood\n\(logText().suffix(3000))")
        let last = try await client.get("k99")
        XCTAssertEqual(last, "v99")
        let text = logText()
        XCTAssertTrue(text.contains("file descriptor limit") && text.contains("nofile=200"), "the limit is logged")
        XCTAssertTrue(text.contains("snapshot written"), "snapshots kept being written")
        XCTAssertFalse(text.contains("stopping"), "kvd must not stop itself\n\(text.suffix(3000))")
        print("fd flood: \(flood.count) connections opened, kvd holds \(fds) descriptors (limit 200)")
    }

    func testUsageErrorsNameTheStrayArgumentAndExitTwo() throws {
        let p = Process()
        p.executableURL = try Binaries.kvd()
        p.arguments = ["n1"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 2, text)
        XCTAssertTrue(text.contains("unexpected argument \"n1\"") && text.contains("--name n1"), text)
    }
}
