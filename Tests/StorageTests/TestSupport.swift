import Foundation
import Raft
import Storage
import XCTest

let testIdentity = DataDirIdentity(clusterToken: "test-cluster", nodeID: 1, nodeName: "n1")

/// Deterministic payload for entry `index`, so a test can check contents after recovery.
func payload(_ index: LogIndex, size: Int? = nil) -> [UInt8] {
    let n = size ?? Int(index % 37) + 3
    var x = index &* 0x9E37_79B9_7F4A_7C15
    return (0..<n).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}

func entries(_ range: ClosedRange<LogIndex>, term: Term, size: Int? = nil) -> [Entry] {
    range.map { Entry(term: term, index: $0, kind: $0 % 5 == 0 ? .noop : .normal, data: payload($0, size: size)) }
}

func tinyOptions(segmentSize: Int = 512, retainedTail: UInt64 = 0) -> WALOptions {
    var o = WALOptions()
    o.segmentSize = segmentSize
    o.retainedTail = retainedTail
    o.maxRecordSize = 64 << 10
    o.maxSnapshotSize = 1 << 20
    o.writeBufferSize = 256
    return o
}

func config() -> ClusterConfig { ClusterConfig(voters: [1, 2, 3]) }

/// A fresh directory under the system temp dir, removed by `cleanup`.
final class TempDir {
    let path: String
    init(_ label: String = "storage") {
        path = NSTemporaryDirectory() + "raftkv-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func read(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: file(name))!) }
    func write(_ name: String, _ bytes: [UInt8]) {
        XCTAssertTrue(FileManager.default.createFile(atPath: file(name), contents: Data(bytes)))
    }
}

/// Asserts `body` throws a `StorageError` matching `matches`; returns the error.
@discardableResult
func assertStorageError<T>(_ body: () throws(StorageError) -> T, file: StaticString = #filePath, line: UInt = #line,
                           _ matches: (StorageError) -> Bool) -> StorageError? {
    do {
        _ = try body()
        XCTFail("expected a StorageError, got success", file: file, line: line)
        return nil
    } catch {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
        return error
    }
}

func isCorrupt(_ e: StorageError) -> Bool { if case .corrupt = e { return true } else { return false } }

func segmentNames(_ dir: TempDir) -> [String] { dir.names().filter { $0.hasPrefix("wal-") } }
