// Child process for StorageTests' kill test: appends and syncs entries forever, printing
// "ack <index>" after each sync returns. The parent SIGKILLs it at random moments and then
// checks that every acknowledged index survived.
//
// Usage: storage-torture <data-dir> <seed>
#if canImport(Glibc)
import Glibc
#endif
import Posix
import Raft
import Storage

/// Same deterministic payload as the tests use (Tests/StorageTests/TestSupport.swift).
func payload(_ index: LogIndex) -> [UInt8] {
    let n = Int(index % 37) + 3
    var x = index &* 0x9E37_79B9_7F4A_7C15
    return (0..<n).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: x >> 33)
    }
}

/// Unbuffered write of a whole line (stdio's globals are not concurrency-safe in Swift 6,
/// and an unbuffered write needs no flush before a SIGKILL).
func emit(_ fd: Int32, _ line: String) {
    var bytes = Array((line + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = try? bytes.withUnsafeMutableBytes { buf in
            try syscall("write", "fd \(fd)") { write(fd, buf.baseAddress! + done, buf.count - done) }
        }
        guard let n else { exit(3) }
        done += n
    }
}

func fail(_ message: String) -> Never {
    emit(2, "storage-torture: \(message)")
    exit(2)
}

let args = CommandLine.arguments
guard args.count == 3, let seed = UInt64(args[2]) else { fail("usage: storage-torture <data-dir> <seed>") }
var options = WALOptions()
options.segmentSize = 16 << 10
options.retainedTail = 64
let identity = DataDirIdentity(clusterToken: "torture", nodeID: 1, nodeName: "torture")

do throws(StorageError) {
    let wal = try WALStorage(directory: args[1], identity: identity, options: options)
    let state = try wal.load()
    let term = state.hardState.term + 1
    try wal.append([], hardState: HardState(term: term, vote: 1, commit: state.hardState.commit))
    try wal.sync()
    var rng = SeededRandom(seed: seed)
    var next = wal.lastIndex + 1
    var sinceSnapshot = 0
    while true {
        let n = Int(1 + rng.below(8))
        let batch = (0..<n).map { k in Entry(term: term, index: next + LogIndex(k), data: payload(next + LogIndex(k))) }
        try wal.append(batch, hardState: rng.chance(0.3) ? HardState(term: term, vote: 1, commit: next) : nil)
        try wal.sync()
        next += LogIndex(n)
        emit(1, "ack \(next - 1)")
        sinceSnapshot += n
        if sinceSnapshot >= 200 {
            sinceSnapshot = 0
            let at = next - 1
            var data = [UInt8]()
            for s in stride(from: 0, to: 64, by: 8) { data.append(UInt8(truncatingIfNeeded: at >> UInt64(s))) }
            try wal.saveSnapshot(Snapshot(metadata: SnapshotMetadata(index: at, term: term, config: ClusterConfig(voters: [1, 2, 3])), data: data))
        }
    }
} catch {
    fail("\(error)")
}
