// WAL throughput with fsync, next to the raw fdatasync rate of the same disk, and the time
// to reopen a large log. Usage:
//
//     swift run -c release wal-bench [--quick] [--dir PATH] [--seconds S] [--reopen N]
//
// --quick: 0.2 s per cell and a 100,000-entry reopen. Results go in docs/storage.md.
import Foundation
import Raft
import Storage

struct Config: Sendable {
    var directory = FileManager.default.currentDirectoryPath + "/.walbench"
    var seconds = 1.0
    var reopenEntries = 1_000_000
}

func parseConfig() -> Config {
    var config = Config()
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        switch a {
        case "--quick": config.seconds = 0.2; config.reopenEntries = 100_000
        case "--dir": config.directory = args.popFirst() ?? config.directory
        case "--seconds": config.seconds = Double(args.popFirst() ?? "") ?? config.seconds
        case "--reopen": config.reopenEntries = Int(args.popFirst() ?? "") ?? config.reopenEntries
        default:
            print("usage: wal-bench [--quick] [--dir PATH] [--seconds S] [--reopen N]")
            exit(2)
        }
    }
    return config
}

let config = parseConfig()
let identity = DataDirIdentity(clusterToken: "bench", nodeID: 1, nodeName: "bench")
let clock = ContinuousClock()

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func freshDirectory(_ name: String) -> String {
    let p = config.directory + "/" + name
    try? FileManager.default.removeItem(atPath: p)
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

func run(_ body: () throws(StorageError) -> Void) {
    do { try body() } catch { print("wal-bench: \(error)"); exit(1) }
}

/// fdatasync after a small append, as often as possible: the disk's floor.
func rawSyncRate() -> Double {
    let fs = PosixFileSystem()
    let dir = freshDirectory("raw")
    var rate = 0.0
    run { () throws(StorageError) in
        let f = try fs.createFile(dir + "/raw")
        let block = [UInt8](repeating: 0xAB, count: 128)
        var n = 0
        let start = clock.now
        while seconds(clock.now - start) < config.seconds {
            try fs.write(f, block)
            try fs.syncData(f)
            n += 1
        }
        rate = Double(n) / seconds(clock.now - start)
        fs.close(f)
    }
    return rate
}

struct Cell { var entriesPerSec: Double; var mbPerSec: Double; var syncsPerSec: Double }

func measure(size: Int, batch: Int) -> Cell {
    let dir = freshDirectory("wal-\(size)-\(batch)")
    var cell = Cell(entriesPerSec: 0, mbPerSec: 0, syncsPerSec: 0)
    run { () throws(StorageError) in
        let wal = try WALStorage(directory: dir, identity: identity)
        _ = try wal.load()
        let data = [UInt8](repeating: 0x5C, count: size)
        var next: LogIndex = 1
        var syncs = 0
        let start = clock.now
        while seconds(clock.now - start) < config.seconds {
            let entries = (0..<batch).map { Entry(term: 1, index: next + LogIndex($0), data: data) }
            try wal.append(entries, hardState: nil)
            try wal.sync()
            next += LogIndex(batch)
            syncs += 1
        }
        let t = seconds(clock.now - start)
        let n = Double(next - 1)
        cell = Cell(entriesPerSec: n / t, mbPerSec: n * Double(size) / t / 1e6, syncsPerSec: Double(syncs) / t)
        try wal.close()
    }
    try? FileManager.default.removeItem(atPath: dir)
    return cell
}

func reopenTime(entries count: Int) -> (write: Double, reopen: Double, segments: Int) {
    let dir = freshDirectory("reopen")
    var result = (0.0, 0.0, 0)
    run { () throws(StorageError) in
        let wal = try WALStorage(directory: dir, identity: identity)
        _ = try wal.load()
        let data = [UInt8](repeating: 0x33, count: 128)
        let start = clock.now
        var next: LogIndex = 1
        while next <= LogIndex(count) {
            let n = min(4096, count - Int(next) + 1)
            try wal.append((0..<n).map { Entry(term: 1, index: next + LogIndex($0), data: data) }, hardState: nil)
            try wal.sync()
            next += LogIndex(n)
        }
        let write = seconds(clock.now - start)
        try wal.close()
        let t0 = clock.now
        let again = try WALStorage(directory: dir, identity: identity)
        let state = try again.load()
        let reopen = seconds(clock.now - t0)
        guard state.entries.count == count else { print("wal-bench: reopen lost entries"); exit(1) }
        result = (write, reopen, again.segmentPaths.count)
    }
    try? FileManager.default.removeItem(atPath: dir)
    return result
}

func fmt(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }

print("wal-bench: \(fmt(config.seconds, 1)) s per cell, directory \(config.directory)")
let raw = rawSyncRate()
print("")
print("raw fdatasync rate (128 B append + fdatasync): \(fmt(raw)) /s")
print("")
print("| entry size | batch | entries/s | MB/s | fsyncs/s | fsyncs/s vs raw |")
print("|---:|---:|---:|---:|---:|---:|")
for size in [128, 1024, 16384] {
    for batch in [1, 16, 256] {
        let c = measure(size: size, batch: batch)
        print("| \(size) B | \(batch) | \(fmt(c.entriesPerSec)) | \(fmt(c.mbPerSec, 1)) | \(fmt(c.syncsPerSec)) | \(fmt(100 * c.syncsPerSec / raw))% |")
    }
}
let r = reopenTime(entries: config.reopenEntries)
print("")
print("reopen of \(config.reopenEntries) entries of 128 B (\(r.segments) segment(s)): \(fmt(r.reopen, 2)) s (written in \(fmt(r.write, 2)) s)")
try? FileManager.default.removeItem(atPath: config.directory)
