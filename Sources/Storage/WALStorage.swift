import Codec
import Raft

/// The durable `RaftStorage`: a segmented write-ahead log plus snapshot files in one data
/// directory, over any `FileSystem`. Not thread-safe: one replica drives it from one thread.
///
/// Files in the directory: `meta` (identity), `wal-<seq>-<firstIndex>.log` segments,
/// `snap-<index>-<term>.snap` snapshots, and `*.tmp` leftovers that recovery removes.
/// Formats and recovery rules: docs/storage.md.
public final class WALStorage: RaftStorage {
    public let directory: String
    public let options: WALOptions
    public let fileSystem: any FileSystem
    /// What recovery repaired or skipped, in order. Also passed to `onWarning` as they happen.
    public private(set) var warnings: [StorageWarning] = []
    public var onWarning: ((StorageWarning) -> Void)?

    private let snapshots: SnapshotStore

    // Writer state, valid once `load` succeeded (`current != nil`).

    /// Retained segments, oldest first; the last one is open for appending.
    private var segments: [SegmentHeader] = []
    private var current: FileRef?
    /// Bytes in the newest segment, counting `pending`.
    private var currentSize = 0
    /// Size of the newest segment's header plus its leading state records.
    private var currentLeadingSize = 0
    /// Encoded records not yet handed to the file system.
    private var pending = ByteWriter(capacity: 0)
    /// Records were written since the last fdatasync.
    private var dirty = false
    /// Set after a failed write or sync: the file's state is unknown (a failed fsync may have
    /// dropped dirty pages), so the only safe continuation is a restart and recovery.
    private var failure: StorageError?

    /// Snapshot the log continues from. Invariant: `terms` holds the terms of entries
    /// `snapshotIndex + 1 ... lastIndex`, non-decreasing, all >= `snapshotTerm`.
    public private(set) var snapshotIndex: LogIndex = 0
    public private(set) var snapshotTerm: Term = 0
    private var terms: [Term] = []
    /// The last hard state handed to `append` (written, maybe not yet synced).
    public private(set) var hardState = HardState()

    public var lastIndex: LogIndex { snapshotIndex + LogIndex(terms.count) }

    /// Opens (creating if needed) the data directory and checks it belongs to `identity`.
    /// Call `load` before anything else.
    public init(directory: String, identity: DataDirIdentity, fileSystem: any FileSystem = PosixFileSystem(),
                options: WALOptions = WALOptions()) throws(StorageError) {
        options.validate()
        self.directory = directory
        self.options = options
        self.fileSystem = fileSystem
        self.snapshots = SnapshotStore(fileSystem: fileSystem, directory: directory,
                                       retention: options.snapshotRetention, maxDataSize: options.maxSnapshotSize)
        try fileSystem.makeDirectory(directory)
        try DataDirMeta.claim(fileSystem, directory: directory, id: identity)
    }

    deinit {
        if let f = current { fileSystem.close(f) }
    }

    /// Paths of the retained WAL segments, oldest first.
    public var segmentPaths: [String] { segments.map { joinPath(directory, $0.fileName) } }

    private func warn(_ path: String, _ offset: Int64, _ message: String) {
        let w = StorageWarning(path: path, offset: offset, message: message)
        warnings.append(w)
        onWarning?(w)
    }

    // MARK: Recovery

    /// Recovery in named steps: forget any open state, clear temporary files, pick the
    /// segments to replay, replay them, choose the snapshot to start from, cut a torn tail,
    /// and adopt the result.
    public func load() throws(StorageError) -> PersistentState {
        resetForReload()
        let names = try removeTemporaryFiles(try fileSystem.listDirectory(directory))
        guard let found = try segmentsToReplay(names) else {
            let snaps = try snapshots.list()
            if let s = snaps.first {
                throw StorageError.corrupt(path: s.path, offset: 0,
                                           reason: "snapshots exist but every WAL segment is missing, so the vote and term are lost\(StorageAdvice.refuse)")
            }
            return try startFresh()
        }
        let replayed = try replaySegments(found)
        let chosen = try chooseSnapshot(covering: replayed.replay)
        if let cut = replayed.tornCut {
            try fileSystem.truncate(cut.path, size: Int64(cut.offset))
            warn(cut.path, Int64(cut.offset),
                 "cut off \(cut.size - cut.offset) byte(s) of an interrupted write at the end of the newest segment")
        }
        return try adopt(replayed, snapshot: chosen, segments: found)
    }

    /// Reloading: hand everything buffered to the disk first so nothing is reordered.
    private func resetForReload() {
        if let f = current {
            try? flushPending()
            fileSystem.close(f)
            current = nil
        }
        failure = nil
        pending = ByteWriter(capacity: 0)
        dirty = false
    }

    /// Deletes files an interrupted atomic write left; returns the other names.
    private func removeTemporaryFiles(_ names: [String]) throws(StorageError) -> [String] {
        let temps = names.filter { $0.hasSuffix(tempSuffix) }
        for t in temps {
            let p = joinPath(directory, t)
            try fileSystem.remove(p)
            warn(p, -1, "removed a temporary file left by an interrupted write")
        }
        guard !temps.isEmpty else { return names }
        try fileSystem.syncDirectory(directory)
        return names.filter { !$0.hasSuffix(tempSuffix) }
    }

    /// The contiguous run of segments to replay, oldest first; nil when there are none.
    private func segmentsToReplay(_ names: [String]) throws(StorageError) -> [SegmentHeader]? {
        var found = names.compactMap { SegmentHeader.parse(fileName: $0) }.sorted { $0.sequence < $1.sequence }
        for i in found.indices.dropFirst() where found[i].sequence == found[i - 1].sequence {
            throw StorageError.corrupt(path: joinPath(directory, found[i].fileName), offset: 0,
                                       reason: "two segments with sequence \(found[i].sequence)\(StorageAdvice.refuse)")
        }
        if found.isEmpty { return nil }
        // A gap in sequence numbers: older segments before it can only be leftovers of an
        // interrupted compaction; replay the contiguous suffix and let the coverage check
        // refuse if anything needed is missing.
        if let gap = found.indices.dropFirst().last(where: { found[$0].sequence != found[$0 - 1].sequence + 1 }) {
            for old in found[..<gap] {
                warn(joinPath(directory, old.fileName), -1,
                     "ignored: segment sequence gap before \(found[gap].fileName) (leftover of an interrupted compaction)")
            }
            found.removeFirst(gap)
        }
        return found
    }

    private struct Replayed {
        var replay: LogReplay
        /// Where the newest segment's interrupted write starts, to cut once recovery succeeds.
        var tornCut: (path: String, offset: Int, size: Int)?
        var newestEnd: Int
    }

    /// Replays every record; only the newest segment may end in an interrupted write.
    private func replaySegments(_ found: [SegmentHeader]) throws(StorageError) -> Replayed {
        var out = Replayed(replay: LogReplay(), tornCut: nil, newestEnd: 0)
        for (i, expected) in found.enumerated() {
            let path = joinPath(directory, expected.fileName)
            let isNewest = i == found.count - 1
            let bytes = try fileSystem.readFile(path)
            let scan = try SegmentScanner.scan(bytes, path: path, maxRecordSize: options.maxRecordSize)
            guard scan.header == expected else {
                throw StorageError.corrupt(path: path, offset: 0,
                                           reason: "segment header (sequence \(scan.header.sequence), first index \(scan.header.firstIndex)) does not match the file name\(StorageAdvice.refuse)")
            }
            if i == 0 {
                out.replay.start(at: expected.firstIndex)
            } else if out.replay.lastIndex + 1 != expected.firstIndex {
                throw StorageError.corrupt(path: path, offset: 0,
                                           reason: "segment starts at index \(expected.firstIndex) but the previous segment ends at index \(out.replay.lastIndex)\(StorageAdvice.refuse)")
            }
            for r in scan.records {
                if let problem = out.replay.apply(r.record) {
                    throw StorageError.corrupt(path: path, offset: Int64(r.offset), reason: problem + StorageAdvice.refuse)
                }
            }
            if let d = scan.damage {
                if isNewest && !d.badContent && !d.validFrameFollows {
                    out.tornCut = (path, d.offset, bytes.count)
                } else {
                    let why = d.validFrameFollows ? "; valid records follow it, so this is not an interrupted write"
                        : isNewest ? "" : "; only the newest segment may end in an interrupted write"
                    throw StorageError.corrupt(path: path, offset: Int64(d.offset), reason: d.reason + why + StorageAdvice.refuse)
                }
            }
            if isNewest { out.newestEnd = scan.validEnd }
        }
        return out
    }

    /// The newest usable snapshot; an older one only if the log bridges the gap. A corrupt
    /// snapshot file is moved aside as `<name>.broken` (as etcd does): it is never chosen,
    /// never counted by retention again, and kept for inspection.
    private func chooseSnapshot(covering replay: LogReplay) throws(StorageError) -> Snapshot? {
        var chosen: Snapshot?
        var rejected: [String] = []
        for c in try snapshots.list() {
            let snap: Snapshot
            do {
                snap = try snapshots.read(path: c.path)
            } catch {
                rejected.append("\(error)")
                if case .corrupt = error {
                    try moveAside(c.path, because: error)
                } else {
                    warn(c.path, -1, "unusable snapshot: \(error)")
                }
                continue
            }
            if let problem = replay.coverageProblem(snapshotIndex: snap.metadata.index, term: snap.metadata.term) {
                rejected.append("\(c.path): \(problem)")
                continue
            }
            chosen = snap
            break
        }
        if chosen == nil, let problem = replay.coverageProblem(snapshotIndex: 0, term: 0) {
            let detail = rejected.isEmpty ? "no snapshot file found" : rejected.joined(separator: "; ")
            throw StorageError.corrupt(path: directory, offset: 0,
                                       reason: "no usable starting point: \(problem); \(detail)\(StorageAdvice.refuse)")
        }
        if let c = chosen, !rejected.isEmpty {
            warn(joinPath(directory, SnapshotFileName(index: c.metadata.index, term: c.metadata.term).fileName), -1,
                 "recovering from this older snapshot because newer ones are unusable")
        }
        return chosen
    }

    /// Renames a corrupt file to `<path>.broken`, durably.
    private func moveAside(_ path: String, because error: StorageError) throws(StorageError) {
        let broken = path + Self.brokenSuffix
        try fileSystem.rename(path, to: broken)
        try fileSystem.syncDirectory(directory)
        warn(path, -1, "corrupt snapshot moved aside to \(broken) (\(error)); it is no longer used or counted")
    }

    /// Suffix of a corrupt file moved aside.
    public static let brokenSuffix = ".broken"

    /// Takes the recovered state as the log's own and opens the newest segment for appends.
    private func adopt(_ replayed: Replayed, snapshot chosen: Snapshot?, segments found: [SegmentHeader]) throws(StorageError) -> PersistentState {
        let state = replayed.replay.finish(with: chosen)
        snapshotIndex = chosen?.metadata.index ?? 0
        snapshotTerm = chosen?.metadata.term ?? 0
        terms = state.entries.map(\.term)
        hardState = state.hardState
        segments = found
        let newest = joinPath(directory, found[found.count - 1].fileName)
        let file = try fileSystem.openForAppend(newest)
        if replayed.tornCut != nil {
            do { try fileSystem.syncData(file) } catch { fileSystem.close(file); throw error }
        }
        current = file
        currentSize = replayed.newestEnd
        currentLeadingSize = SegmentHeader.size
        return state
    }

    private func startFresh() throws(StorageError) -> PersistentState {
        snapshotIndex = 0
        snapshotTerm = 0
        terms = []
        hardState = HardState()
        segments = []
        try openNewSegment(sequence: 1)
        return PersistentState()
    }

    // MARK: Writing

    public func append(_ entries: [Entry], hardState newHardState: HardState?) throws(StorageError) {
        try checkWritable()
        try validate(entries, newHardState)
        do {
            for e in entries {
                // Record first: a roll-over inside `add` must see the log as already written.
                try add(.entry(e))
                if e.index <= lastIndex { terms.removeLast(Int(lastIndex - e.index + 1)) }
                terms.append(e.term)
            }
            if let h = newHardState {
                try add(.hardState(h))
                hardState = h
            }
            if pending.count >= options.writeBufferSize { try flushPending() }
        } catch {
            failure = error
            throw error
        }
    }

    public func sync() throws(StorageError) {
        try checkWritable()
        do {
            try flushPending()
            if dirty, let f = current {
                try fileSystem.syncData(f)
                dirty = false
            }
        } catch {
            failure = error
            throw error
        }
    }

    public func saveSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try checkSnapshot(snapshot.metadata)
        // 1. The snapshot file is durable before anything refers to it.
        try snapshots.save(snapshot)
        try recordSnapshot(snapshot.metadata)
    }

    /// Records a snapshot whose file `snapshotStore(fileSystem:)` already wrote (contract rule 5).
    public func snapshotWritten(_ snapshot: Snapshot) throws(StorageError) {
        try checkSnapshot(snapshot.metadata)
        let name = SnapshotFileName(index: snapshot.metadata.index, term: snapshot.metadata.term).fileName
        guard try fileSystem.fileExists(joinPath(directory, name)) else {
            throw .invalidArgument("snapshot file \(name) was not written before being recorded")
        }
        try recordSnapshot(snapshot.metadata)
    }

    /// A store for this directory's snapshot files, for writing them off the replica's thread
    /// (pass a file system that is safe to use there, e.g. `PosixFileSystem`).
    public func snapshotStore(fileSystem fs: any FileSystem) -> SnapshotStore {
        SnapshotStore(fileSystem: fs, directory: directory, retention: options.snapshotRetention, maxDataSize: options.maxSnapshotSize)
    }

    private func checkSnapshot(_ m: SnapshotMetadata) throws(StorageError) {
        try checkWritable()
        guard m.index >= snapshotIndex else {
            throw .invalidArgument("snapshot at index \(m.index) is older than the current one at \(snapshotIndex)")
        }
        if m.index == snapshotIndex && m.term != snapshotTerm && snapshotIndex > 0 {
            throw .invalidArgument("snapshot at index \(m.index) has term \(m.term), but the current one has term \(snapshotTerm)")
        }
        if let t = termAt(m.index), m.term < t {
            // Terms never decrease along the log; a lower term here means a confused caller.
            throw .invalidArgument("snapshot term \(m.term) is lower than the log's term \(t) at index \(m.index)")
        }
    }

    private func recordSnapshot(_ m: SnapshotMetadata) throws(StorageError) {
        do {
            // 2. The marker makes recovery drop the entries it covers.
            try add(.snapshotMarker(index: m.index, term: m.term))
            if m.index <= lastIndex, termAt(m.index) == m.term {
                terms.removeFirst(Int(m.index - snapshotIndex))
            } else {
                terms.removeAll()  // contract rule 4: the log contradicts the snapshot
            }
            snapshotIndex = m.index
            snapshotTerm = m.term
        } catch {
            failure = error
            throw error
        }
        try sync()
        // 3. Only now is it safe to delete what the snapshot covers.
        try compact()
        try snapshots.prune()
    }

    /// Flushes buffered records and closes the file. The object is unusable afterwards
    /// (until `load`). Does not sync.
    public func close() throws(StorageError) {
        defer {
            if let f = current { fileSystem.close(f) }
            current = nil
        }
        if failure == nil { try flushPending() }
    }

    private func checkWritable() throws(StorageError) {
        if let f = failure { throw f }
        guard current != nil else { throw .invalidArgument("call load() before writing") }
    }

    private func termAt(_ index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        if index > snapshotIndex && index <= lastIndex { return terms[Int(index - snapshotIndex - 1)] }
        return nil
    }

    /// Rejects a batch that breaks the contract before any of it is written.
    private func validate(_ entries: [Entry], _ h: HardState?) throws(StorageError) {
        if let first = entries.first {
            guard first.index > snapshotIndex else {
                throw .invalidArgument("entry \(first.index) is at or below the snapshot index \(snapshotIndex)")
            }
            guard first.index <= lastIndex + 1 else {
                throw .invalidArgument("entry \(first.index) leaves a gap after the last index \(lastIndex)")
            }
            var prevTerm = termAt(first.index - 1) ?? 0
            for (k, e) in entries.enumerated() {
                guard e.index == first.index + LogIndex(k) else {
                    throw .invalidArgument("entries not contiguous at position \(k): index \(e.index)")
                }
                guard e.term >= 1 else { throw .invalidArgument("entry \(e.index) has term 0") }
                guard e.term >= prevTerm else {
                    throw .invalidArgument("entry \(e.index) has term \(e.term), lower than the previous entry's \(prevTerm)")
                }
                guard e.data.count <= options.maxEntryDataSize else {
                    throw .invalidArgument("entry \(e.index) carries \(e.data.count) bytes, over the limit \(options.maxEntryDataSize)")
                }
                prevTerm = e.term
            }
        }
        if let h {
            guard h.term >= hardState.term else {
                throw .invalidArgument("hard state term \(h.term) is lower than the stored term \(hardState.term)")
            }
        }
    }

    /// Buffers one record, first moving to a new segment if this one is full.
    private func add(_ record: WALRecord) throws(StorageError) {
        let size = record.encodedSize
        if currentSize + size > options.segmentSize && currentSize > currentLeadingSize {
            try rollOver()
        }
        record.encode(into: &pending)
        currentSize += size
    }

    private func flushPending() throws(StorageError) {
        guard pending.count > 0, let f = current else { return }
        try fileSystem.write(f, pending.bytes)
        pending = ByteWriter(capacity: min(options.writeBufferSize, 1 << 16))
        dirty = true
    }

    /// Seals the current segment (everything in it synced) and starts the next one.
    private func rollOver() throws(StorageError) {
        guard let f = current, let last = segments.last else { preconditionFailure("roll over without an open segment") }
        try flushPending()
        try fileSystem.syncData(f)
        dirty = false
        fileSystem.close(f)
        current = nil
        try openNewSegment(sequence: last.sequence + 1)
    }

    /// Creates the next segment atomically. It starts with the current snapshot marker and
    /// hard state so that older segments can be deleted without losing either.
    private func openNewSegment(sequence: UInt64) throws(StorageError) {
        let header = SegmentHeader(sequence: sequence, firstIndex: lastIndex + 1)
        var w = ByteWriter(capacity: 128)
        w.writeRaw(header.encode())
        if snapshotIndex > 0 { WALRecord.snapshotMarker(index: snapshotIndex, term: snapshotTerm).encode(into: &w) }
        WALRecord.hardState(hardState).encode(into: &w)
        let maxRecord = options.maxRecordSize
        try writeFileAtomically(fileSystem, directory: directory, name: header.fileName, bytes: w.bytes) {
            (bytes, path) throws(StorageError) in
            let scan = try SegmentScanner.scan(bytes, path: path, maxRecordSize: maxRecord)
            guard scan.header == header, scan.damage == nil else {
                throw StorageError.corrupt(path: path, offset: 0, reason: "new segment failed validation after writing; check the disk")
            }
        }
        let path = joinPath(directory, header.fileName)
        current = try fileSystem.openForAppend(path)
        segments.append(header)
        currentSize = w.count
        currentLeadingSize = w.count
    }

    /// Deletes whole segments whose entries are all at or below `snapshotIndex - retainedTail`,
    /// oldest first (so a crash midway leaves a contiguous suffix). The newest is never deleted.
    private func compact() throws(StorageError) {
        let cutoff = snapshotIndex > options.retainedTail ? snapshotIndex - options.retainedTail : 0
        var removed = false
        while segments.count >= 2, segments[1].firstIndex - 1 <= cutoff {
            try fileSystem.remove(joinPath(directory, segments[0].fileName))
            segments.removeFirst()
            removed = true
        }
        if removed { try fileSystem.syncDirectory(directory) }
    }
}

/// Shared operator guidance appended to refusals. It must never recommend an unsafe step:
/// an empty restart is safe only in recovery, which `--initial-cluster-state existing`
/// guarantees (docs/operations.md, "Recovering a member that lost its disk").
enum StorageAdvice {
    static let refuse = ". Refusing to start: the log may hold committed entries, so do not delete or edit it. "
        + "Keep a copy of the data directory and either repair the disk, or move the directory aside and restart "
        + "this member with an empty --data-dir AND --initial-cluster-state existing, so that it recovers from its "
        + "peers and does not vote until it has caught up (never restart it empty without that flag). "
        + "Once the cluster supports membership changes, remove this member and re-add it as a learner instead. "
        + "See docs/operations.md, \"Recovering a member that lost its disk\"."
}
