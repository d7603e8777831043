import Raft
import StorageTestSupport
@testable import Storage
import XCTest

final class SimFileSystemTests: XCTestCase {
    func testCrashKeepsSyncedBytesAndDropsOrTearsUnsyncedOnes() throws {
        var outcomes = Set<Int>()
        for seed in UInt64(0)..<60 {
            let fs = SimFileSystem()
            try fs.makeDirectory("/d")
            let f = try fs.createFile("/d/a")
            try fs.write(f, Array("abc".utf8))
            try fs.syncData(f)
            try fs.syncDirectory("/d")
            try fs.write(f, Array("defgh".utf8))
            var rng = SeededRandom(seed: seed)
            fs.crash(using: &rng)
            let after = try fs.readFile("/d/a")
            XCTAssertEqual(Array(after.prefix(3)), Array("abc".utf8))
            XCTAssertEqual(after, Array(Array("abcdefgh".utf8).prefix(after.count)))
            outcomes.insert(after.count)
            XCTAssertThrowsError(try fs.write(f, [1])) { XCTAssertEqual($0 as? StorageError, .crashed) }
        }
        XCTAssertTrue(outcomes.contains(3), "all unsynced bytes lost in some run")
        XCTAssertTrue(outcomes.contains(8), "all unsynced bytes kept in some run")
        XCTAssertTrue(outcomes.contains { $0 > 3 && $0 < 8 }, "a torn write in some run")
    }

    func testCrashIsDeterministicForASeed() throws {
        func run() throws -> [UInt8]? {
            let fs = SimFileSystem()
            try fs.makeDirectory("/d")
            let f = try fs.createFile("/d/a")
            try fs.write(f, [UInt8](repeating: 7, count: 1000))
            var rng = SeededRandom(seed: 99)
            fs.crash(using: &rng)
            return fs.contents(of: "/d/a")
        }
        XCTAssertEqual(try run(), try run())
    }

    func testUnsyncedCreateAndRenameMayVanishButSyncedOnesStay() throws {
        var lostCreate = false, lostRename = false
        for seed in UInt64(0)..<40 {
            let fs = SimFileSystem()
            try fs.makeDirectory("/d")
            let a = try fs.createFile("/d/a")
            try fs.sync(a)
            try fs.syncDirectory("/d")
            try fs.rename("/d/a", to: "/d/b")
            let c = try fs.createFile("/d/c")
            try fs.sync(c)
            var rng = SeededRandom(seed: seed)
            fs.crash(using: &rng)
            let names = try fs.listDirectory("/d")
            XCTAssertTrue(names == ["a"] || names == ["b"] || names == ["b", "c"], "\(names)")
            if names == ["a"] { lostRename = true }
            if !names.contains("c") { lostCreate = true }
            // After a directory fsync, nothing is lost.
            let d = try fs.createFile("/d/d")
            try fs.sync(d)
            try fs.syncDirectory("/d")
            fs.crash(using: &rng)
            XCTAssertTrue(try fs.listDirectory("/d").contains("d"))
        }
        XCTAssertTrue(lostCreate)
        XCTAssertTrue(lostRename)
    }

    func testCorruptedReadsFlipAByte() throws {
        let fs = SimFileSystem()
        try fs.makeDirectory("/d")
        let f = try fs.createFile("/d/a")
        let data = [UInt8](repeating: 0, count: 64)
        try fs.write(f, data)
        fs.readCorruption = .init(probability: 1, rng: SeededRandom(seed: 1))
        let read = try fs.readFile("/d/a")
        XCTAssertEqual(zip(read, data).filter { $0 != $1 }.count, 1)
        fs.readCorruption = nil
        XCTAssertEqual(try fs.readFile("/d/a"), data)
    }

    func testWALOverSimDetectsCorruptedReadsViaChecksums() throws {
        let fs = SimFileSystem()
        let w = try WALStorage(directory: "/n1", identity: testIdentity, fileSystem: fs, options: tinyOptions(segmentSize: 400))
        _ = try w.load()
        try w.append(entries(1...100, term: 1), hardState: HardState(term: 1, vote: 1, commit: 1))
        try w.sync()
        for seed in UInt64(0)..<30 {
            let w2 = try WALStorage(directory: "/n1", identity: testIdentity, fileSystem: fs, options: tinyOptions(segmentSize: 400))
            fs.readCorruption = .init(probability: 1, rng: SeededRandom(seed: seed))
            defer { fs.readCorruption = nil }
            // Every read is damaged, starting with the oldest segment: always refused.
            let e = assertStorageError({ () throws(StorageError) in try w2.load() }, isCorrupt)
            if case let .corrupt(path, _, _)? = e { XCTAssertEqual(path, w.segmentPaths[0]) }
        }
    }

    /// Random appends, overwrites, snapshots and crashes. After each crash the recovered state
    /// must be the last synced state plus some prefix of the records written after it.
    func testWALOverSimRecoversSyncedStateAfterRandomCrashes() throws {
        for seed in UInt64(2024)..<2040 { try runCrashWorkload(seed: seed) }
    }

    func runCrashWorkload(seed: UInt64) throws {
        let fs = SimFileSystem()
        var rng = SeededRandom(seed: seed)
        let options = tinyOptions(segmentSize: 700, retainedTail: 5)
        var w = try WALStorage(directory: "/n1", identity: testIdentity, fileSystem: fs, options: options)
        var model = ModelLog()
        _ = try w.load()
        var synced = model
        var since: [ModelLog] = []  // states after each record written since the last sync
        var term: Term = 1
        var crashes = 0
        for step in 0..<1500 {
            switch rng.below(10) {
            case 0...4:
                let last = model.lastIndex
                var start = last + 1
                if rng.chance(0.2) && last > model.snapshotIndex + 1 {
                    term += 1  // a new leader overwrites an unsynced-or-uncommitted suffix
                    start = last - rng.below(min(3, last - model.snapshotIndex - 1))
                }
                let batch = entries(start...start + rng.below(4), term: term)
                let hs = rng.chance(0.3) ? HardState(term: term, vote: 1, commit: start) : nil
                try w.append(batch, hardState: hs)
                for e in batch { model.apply(e); since.append(model) }
                if let hs { model.hardState = hs; since.append(model) }
            case 5...7:
                try w.sync()
                synced = model
                since = []
            case 8 where model.lastIndex > model.snapshotIndex + 5:
                let at = model.lastIndex - rng.below(3)
                let snap = Snapshot(metadata: SnapshotMetadata(index: at, term: model.term(at)!, config: config()), data: [UInt8(step % 256)])
                try w.saveSnapshot(snap)
                model.snapshot(snap)
                synced = model
                since = []
            default:
                fs.crash(using: &rng)
                crashes += 1
                w = try WALStorage(directory: "/n1", identity: testIdentity, fileSystem: fs, options: options)
                let s = try w.load()
                let got = ModelLog(recovered: s)
                let candidates = [synced] + since
                XCTAssertTrue(candidates.contains(got), "seed \(seed) step \(step): recovered \(got.summary), synced \(synced.summary)")
                model = got
                synced = got
                since = []
                term = max(term, got.hardState.term, got.entries.last?.term ?? 0)
            }
        }
        XCTAssertGreaterThan(crashes, 50)
        XCTAssertGreaterThan(fs.bytesLostInCrashes, 0)
    }
}

/// The log the WAL should hold, computed independently.
struct ModelLog: Equatable {
    var snapshot: Snapshot?
    var entries: [Entry] = []
    var hardState = HardState()

    init() {}
    init(recovered s: PersistentState) {
        snapshot = s.snapshot
        entries = s.entries
        hardState = s.hardState
    }

    var snapshotIndex: LogIndex { snapshot?.metadata.index ?? 0 }
    var lastIndex: LogIndex { snapshotIndex + LogIndex(entries.count) }
    func term(_ i: LogIndex) -> Term? {
        if i == snapshotIndex { return snapshot?.metadata.term ?? 0 }
        return i > snapshotIndex && i <= lastIndex ? entries[Int(i - snapshotIndex - 1)].term : nil
    }
    mutating func apply(_ e: Entry) {
        entries.removeLast(Int(lastIndex - (e.index - 1)))
        entries.append(e)
    }
    mutating func snapshot(_ s: Snapshot) {
        let i = s.metadata.index
        if i <= lastIndex, term(i) == s.metadata.term {
            entries.removeFirst(Int(i - snapshotIndex))
        } else {
            entries = []
        }
        snapshot = s
    }
    var summary: String { "snap \(snapshotIndex) last \(lastIndex) hs \(hardState)" }
}
