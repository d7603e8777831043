import Foundation
import Posix
import Raft
import Storage
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Runs the `storage-torture` child (built by `swift build`/`swift test` next to the test
/// bundle), SIGKILLs it at random moments, and checks every acknowledged index survived.
final class ProcessKillTests: XCTestCase {
    /// Same options as Sources/storage-torture/main.swift.
    var tortureOptions: WALOptions {
        var o = WALOptions()
        o.segmentSize = 16 << 10
        o.retainedTail = 64
        return o
    }

    func tortureBinary() -> String? {
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        dirs.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        dirs.append(Bundle(for: ProcessKillTests.self).bundleURL.deletingLastPathComponent())
        // <root>/Tests/StorageTests/ProcessKillTests.swift -> <root>/.build/debug
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        dirs.append(root.appendingPathComponent(".build/debug"))
        for d in dirs {
            let p = d.appendingPathComponent("storage-torture").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    func testEveryAcknowledgedIndexSurvivesSIGKILL() throws {
        guard let binary = tortureBinary() else {
            throw XCTSkip("storage-torture is not built; run `swift build` first")
        }
        let dir = TempDir("kill")
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        var rng = SeededRandom(seed: 77)
        var highestAck: LogIndex = 0
        for round in 0..<6 {
            let out = dir.file("out-\(round).txt")
            let err = dir.file("err-\(round).txt")
            XCTAssertTrue(FileManager.default.createFile(atPath: out, contents: nil))
            XCTAssertTrue(FileManager.default.createFile(atPath: err, contents: nil))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = [data, String(rng.next())]
            p.standardOutput = FileHandle(forWritingAtPath: out)
            p.standardError = FileHandle(forWritingAtPath: err)
            try p.run()
            // Let it get going, then kill it without warning at a random moment.
            Thread.sleep(forTimeInterval: 0.15 + Double(rng.below(350)) / 1000)
            let stillRunning = p.isRunning
            _ = try? syscall("kill", "storage-torture") { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            let errText = String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self)
            XCTAssertTrue(stillRunning, "child exited on its own: \(errText)")
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)

            // Only complete lines count: the kill may cut the last one.
            let text = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
            var acks: [LogIndex] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                guard line.hasPrefix("ack "), let n = LogIndex(line.dropFirst(4)) else { XCTFail("bad line \(line)"); continue }
                acks.append(n)
            }
            XCTAssertEqual(acks, acks.sorted())
            if let last = acks.last { highestAck = max(highestAck, last) }

            let wal = try WALStorage(directory: data, identity: DataDirIdentity(clusterToken: "torture", nodeID: 1, nodeName: "torture"),
                                     options: tortureOptions)
            let s = try wal.load()
            let snapIndex = s.snapshot?.metadata.index ?? 0
            if let snap = s.snapshot {
                var decoded: UInt64 = 0
                for (k, b) in snap.data.enumerated() { decoded |= UInt64(b) << UInt64(8 * k) }
                XCTAssertEqual(decoded, snapIndex, "snapshot content")
            }
            XCTAssertEqual(s.entries.first?.index ?? snapIndex + 1, snapIndex + 1)
            XCTAssertGreaterThanOrEqual(wal.lastIndex, highestAck, "round \(round): acknowledged index lost")
            for e in s.entries {
                XCTAssertEqual(e.data, payload(e.index), "round \(round): entry \(e.index) damaged")
            }
            try wal.close()
        }
        XCTAssertGreaterThan(highestAck, 0, "the child never acknowledged anything")
    }
}
