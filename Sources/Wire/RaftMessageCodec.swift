import Codec
import Raft

// Raft messages on the peer port. Layout of one message:
//   from varint | to varint | term varint | kind tag u8 | kind fields
// Decoding enforces the invariants the core relies on (non-zero distinct ids, contiguous
// entries that follow prevLogIndex, a snapshot chunk inside its snapshot) so that a
// corrupted or hostile peer is stopped at the edge rather than inside the core.

// Kind tags: `MessageTag` in Raft/Message.swift, the one table of message kinds.

extension Message {
    public func encode(into w: inout ByteWriter) {
        w.writeVarint(from)
        w.writeVarint(to)
        w.writeVarint(term)
        switch kind {
        case let .requestVote(lastLogIndex, lastLogTerm):
            w.writeUInt8(MessageTag.requestVote.rawValue)
            w.writeVarint(lastLogIndex); w.writeVarint(lastLogTerm)
        case let .requestVoteResponse(granted):
            w.writeUInt8(MessageTag.requestVoteResponse.rawValue)
            w.writeBool(granted)
        case let .appendEntries(prevLogIndex, prevLogTerm, entries, leaderCommit):
            w.writeUInt8(MessageTag.appendEntries.rawValue)
            w.writeVarint(prevLogIndex); w.writeVarint(prevLogTerm); w.writeVarint(leaderCommit)
            w.writeVarint(UInt64(entries.count))
            for e in entries {
                w.writeVarint(e.term); w.writeVarint(e.index); w.writeUInt8(e.kind.rawValue)
                w.writeLengthPrefixed(e.data)
            }
        case let .appendEntriesResponse(success, index, hintTerm, hintIndex):
            w.writeUInt8(MessageTag.appendEntriesResponse.rawValue)
            w.writeBool(success); w.writeVarint(index); w.writeVarint(hintTerm); w.writeVarint(hintIndex)
        case let .heartbeat(commit):
            w.writeUInt8(MessageTag.heartbeat.rawValue)
            w.writeVarint(commit)
        case .heartbeatResponse:
            w.writeUInt8(MessageTag.heartbeatResponse.rawValue)
        case let .installSnapshot(metadata, offset, totalSize, chunk, done):
            w.writeUInt8(MessageTag.installSnapshot.rawValue)
            metadata.encode(into: &w)
            w.writeVarint(offset); w.writeVarint(totalSize); w.writeLengthPrefixed(chunk); w.writeBool(done)
        case let .installSnapshotResponse(index, nextOffset, done):
            w.writeUInt8(MessageTag.installSnapshotResponse.rawValue)
            w.writeVarint(index); w.writeVarint(nextOffset); w.writeBool(done)
        }
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + approximateDataSize)
        encode(into: &w)
        return w.bytes
    }

    /// Payload bytes carried, for sizing buffers and batches.
    public var approximateDataSize: Int {
        switch kind {
        case let .appendEntries(_, _, entries, _): return entries.reduce(0) { $0 + $1.byteSize }
        case let .installSnapshot(_, _, _, chunk, _): return chunk.count + 64
        default: return 0
        }
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> Message {
        let idsAt = r.offset
        let from = try r.readNodeID(what: "sender")
        let to = try r.readNodeID(what: "recipient")
        guard from != to else { throw .invalid(offset: idsAt, reason: "sender and recipient are both \(from)") }
        let term = try r.readVarint()
        let tagAt = r.offset
        let rawTag = try r.readUInt8()
        guard let tag = MessageTag(rawValue: rawTag) else {
            throw .unknownTag(offset: tagAt, tag: UInt64(rawTag), what: "raft message kind")
        }
        let kind: MessageKind
        switch tag {
        case .requestVote:
            kind = .requestVote(lastLogIndex: try r.readVarint(), lastLogTerm: try r.readVarint())
        case .requestVoteResponse:
            kind = .requestVoteResponse(granted: try r.readBool())
        case .appendEntries:
            kind = try decodeAppendEntries(from: &r, term: term, limits: limits)
        case .appendEntriesResponse:
            let success = try r.readBool()
            kind = .appendEntriesResponse(success: success, index: try r.readVarint(),
                                          hintTerm: try r.readVarint(), hintIndex: try r.readVarint())
        case .heartbeat:
            kind = .heartbeat(commit: try r.readVarint())
        case .heartbeatResponse:
            kind = .heartbeatResponse
        case .installSnapshot:
            kind = try decodeInstallSnapshot(from: &r, limits: limits)
        case .installSnapshotResponse:
            let index = try r.readVarint()
            kind = .installSnapshotResponse(index: index, nextOffset: try r.readVarint(), done: try r.readBool())
        }
        return Message(from: from, to: to, term: term, kind: kind)
    }

    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(DecodeError) -> Message {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r, limits: limits) }
    }

    private static func decodeAppendEntries(from r: inout ByteReader, term: Term,
                                            limits: WireLimits) throws(DecodeError) -> MessageKind {
        let prevLogIndex = try r.readVarint()
        let prevLogTerm = try r.readVarint()
        let leaderCommit = try r.readVarint()
        // Smallest entry: term, index, kind, empty data = 4 bytes.
        let count = try r.readCount(limit: limits.maxEntriesPerMessage, minElementBytes: 4, what: "entry")
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var lastTerm = prevLogTerm
        for i in 0..<count {
            let at = r.offset
            let eTerm = try r.readVarint()
            let eIndex = try r.readVarint()
            let kindAt = r.offset
            let rawKind = try r.readUInt8()
            guard let eKind = EntryKind(rawValue: rawKind) else {
                throw .unknownTag(offset: kindAt, tag: UInt64(rawKind), what: "entry kind")
            }
            let data = try r.readLengthPrefixed(limit: limits.maxEntryBytes)
            // Entries are contiguous from prevLogIndex + 1 (§5.3).
            let (expected, overflow) = prevLogIndex.addingReportingOverflow(UInt64(i) + 1)
            guard !overflow, eIndex == expected else {
                throw .invalid(offset: at, reason: "entry \(i) has index \(eIndex), expected prevLogIndex \(prevLogIndex) + \(i + 1)")
            }
            // Log terms never decrease and never exceed the leader's term (§5.3, §5.4).
            guard eTerm >= 1, eTerm >= lastTerm, eTerm <= term else {
                throw .invalid(offset: at, reason: "entry \(i) term \(eTerm) out of order (previous \(lastTerm), leader term \(term))")
            }
            lastTerm = eTerm
            entries.append(Entry(term: eTerm, index: eIndex, kind: eKind, data: data))
        }
        return .appendEntries(prevLogIndex: prevLogIndex, prevLogTerm: prevLogTerm, entries: entries, leaderCommit: leaderCommit)
    }

    private static func decodeInstallSnapshot(from r: inout ByteReader, limits: WireLimits) throws(DecodeError) -> MessageKind {
        let metadata = try SnapshotMetadata.decode(from: &r, limits: limits)
        let at = r.offset
        let offset = try r.readVarint()
        let totalSize = try r.readVarint()
        let chunk = try r.readLengthPrefixed(limit: limits.maxSnapshotChunkBytes)
        let done = try r.readBool()
        let (end, overflow) = offset.addingReportingOverflow(UInt64(chunk.count))
        guard !overflow, end <= totalSize else {
            throw .invalid(offset: at, reason: "snapshot chunk [\(offset), +\(chunk.count)) exceeds total size \(totalSize)")
        }
        guard !done || end == totalSize else {
            throw .invalid(offset: at, reason: "last snapshot chunk ends at \(end), total size \(totalSize)")
        }
        return .installSnapshot(metadata: metadata, offset: offset, totalSize: totalSize, chunk: chunk, done: done)
    }
}

extension SnapshotMetadata {
    /// index varint | term varint | voter count varint | voters varint each (ascending, non-zero)
    public func encode(into w: inout ByteWriter) {
        w.writeVarint(index)
        w.writeVarint(term)
        w.writeVarint(UInt64(config.voters.count))
        for v in config.voters { w.writeVarint(v) }
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> SnapshotMetadata {
        let at = r.offset
        let index = try r.readVarint()
        let term = try r.readVarint()
        guard index >= 1, term >= 1 else {
            throw .invalid(offset: at, reason: "snapshot index \(index) and term \(term) must be at least 1")
        }
        let countAt = r.offset
        let count = try r.readCount(limit: limits.maxVoters, minElementBytes: 1, what: "voter")
        guard count >= 1 else { throw .invalid(offset: countAt, reason: "snapshot config has no voters") }
        var voters: [NodeID] = []
        voters.reserveCapacity(count)
        for _ in 0..<count {
            let vAt = r.offset
            let v = try r.readNodeID(what: "voter")
            // Strictly ascending keeps the encoding canonical and rules out duplicates.
            if let last = voters.last, v <= last {
                throw .invalid(offset: vAt, reason: "voter \(v) not above previous voter \(last)")
            }
            voters.append(v)
        }
        return SnapshotMetadata(index: index, term: term, config: ClusterConfig(voters: voters))
    }
}
