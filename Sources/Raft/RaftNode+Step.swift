extension RaftNode {
    /// Feeds one message from a peer into the core. Malformed messages and messages from
    /// non-members are dropped (counted in `droppedMessages`), never trusted.
    public mutating func step(_ m: Message) {
        guard m.to == id, m.from != id, m.from != noNode, cluster.contains(m.from) else {
            droppedMessages += 1
            return
        }
        // §5.1: a higher term makes us a follower of that term.
        if m.term > term {
            switch m.kind {
            case .appendEntries, .heartbeat, .installSnapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: noNode)
            }
        } else if m.term < term {
            // Stale sender: tell it our term so it steps down (§5.1). Responses are ignored.
            switch m.kind {
            case .appendEntries, .heartbeat, .installSnapshot:
                send(to: m.from, .appendEntriesResponse(success: false, index: 0, hintTerm: 0, hintIndex: 0))
            case .requestVote:
                send(to: m.from, .requestVoteResponse(granted: false))
            default:
                break
            }
            return
        }

        switch m.kind {
        case let .requestVote(lastIndex, lastTerm):
            handleRequestVote(from: m.from, lastIndex: lastIndex, lastTerm: lastTerm)
        case let .requestVoteResponse(granted):
            handleVoteResponse(from: m.from, granted: granted)
        case let .appendEntries(prevIndex, prevTerm, entries, commit):
            guard role != .leader else { droppedMessages += 1; return } // two leaders in one term: impossible
            acceptLeader(m.from)
            handleAppendEntries(from: m.from, prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, leaderCommit: commit)
        case let .heartbeat(commit):
            guard role != .leader else { droppedMessages += 1; return }
            acceptLeader(m.from)
            log.commit(to: min(commit, log.lastIndex))
            noteRecoveryTarget(leaderCommit: commit, matchedThrough: log.lastIndex)
            send(to: m.from, .heartbeatResponse)
        case let .installSnapshot(meta, offset, total, chunk, done):
            guard role != .leader else { droppedMessages += 1; return }
            acceptLeader(m.from)
            handleSnapshotChunk(from: m.from, meta: meta, offset: offset, totalSize: total, chunk: chunk, done: done)
        case let .appendEntriesResponse(success, index, hintTerm, hintIndex):
            guard role == .leader, let i = progressIndex(m.from) else { return }
            progress[i].recentActive = true
            if success {
                handleAppendSuccess(i, index: index)
            } else {
                handleAppendRejection(i, rejected: index, hintTerm: hintTerm, hintIndex: hintIndex)
            }
        case .heartbeatResponse:
            guard role == .leader, let i = progressIndex(m.from) else { return }
            handleHeartbeatResponse(i)
        case let .installSnapshotResponse(index, nextOffset, done):
            guard role == .leader, let i = progressIndex(m.from) else { return }
            progress[i].recentActive = true
            handleSnapshotResponse(i, index: index, nextOffset: nextOffset, done: done)
        }
    }

    /// Same-term AppendEntries/heartbeat/snapshot: the sender is the leader of this term.
    private mutating func acceptLeader(_ from: NodeID) {
        if role == .candidate { becomeFollower(term: term, leader: from) }
        leader = from
        electionElapsed = 0
    }

    // MARK: - RequestVote (§5.2, §5.4.1)

    private mutating func handleRequestVote(from candidate: NodeID, lastIndex: LogIndex, lastTerm: Term) {
        if recovering {
            // It may have voted in this term before its disk was lost, and may lack entries
            // it acknowledged: its vote could elect a leader missing committed entries.
            votesRefusedWhileRecovering += 1
            send(to: candidate, .requestVoteResponse(granted: false))
            return
        }
        let canVote = vote == candidate || (vote == noNode && leader == noNode)
        let granted = canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm)
        if granted {
            vote = candidate
            resetElectionTimer()
        }
        // Leaves only after the vote is durable (a reply never precedes persistence).
        send(to: candidate, .requestVoteResponse(granted: granted))
    }

    private mutating func handleVoteResponse(from voter: NodeID, granted: Bool) {
        guard role == .candidate else { return }
        if votes[voter] == nil { votes[voter] = granted }
        let yes = votes.values.filter { $0 }.count
        let no = votes.count - yes
        if yes >= cluster.quorum {
            becomeLeader()
        } else if no >= cluster.quorum {
            // Lost: wait for the winner or the next timeout as a follower.
            becomeFollower(term: term, leader: noNode)
        }
    }

    // MARK: - AppendEntries, follower side (§5.3)

    private mutating func handleAppendEntries(from leaderID: NodeID, prevIndex: LogIndex, prevTerm: Term, entries: [Entry], leaderCommit: LogIndex) {
        var prevIndex = prevIndex
        var prevTerm = prevTerm
        var entries = entries
        // Entries at or below our commit index are committed, so they match the leader's
        // (Leader Completeness); skip them rather than re-check against a compacted log.
        if prevIndex < log.committed {
            let skip = Int(min(LogIndex(entries.count), log.committed - prevIndex))
            entries.removeFirst(skip)
            prevIndex = log.committed
            prevTerm = log.term(at: prevIndex) ?? 0
            if entries.isEmpty {
                noteRecoveryTarget(leaderCommit: leaderCommit, matchedThrough: log.committed)
                send(to: leaderID, .appendEntriesResponse(success: true, index: log.committed, hintTerm: 0, hintIndex: 0))
                return
            }
            guard entries[0].index == prevIndex + 1 else { droppedMessages += 1; return }
        }
        guard log.matchTerm(prevIndex, prevTerm) else {
            // Conflict hint: our term at prevIndex and where it starts, or our end if we
            // are short, so the leader skips a whole term per round trip.
            let hintTerm: Term
            let hintIndex: LogIndex
            if prevIndex > log.lastIndex {
                hintTerm = 0
                hintIndex = log.lastIndex + 1
            } else {
                hintTerm = log.term(at: prevIndex) ?? 0
                hintIndex = log.firstIndex(ofTermAt: prevIndex, floor: log.committed + 1)
            }
            send(to: leaderID, .appendEntriesResponse(success: false, index: prevIndex, hintTerm: hintTerm, hintIndex: hintIndex))
            return
        }
        // Entries must be contiguous after prevIndex, with terms between prevTerm and ours.
        for (k, e) in entries.enumerated() where e.index != prevIndex + 1 + LogIndex(k) || e.term > term || e.term < prevTerm {
            droppedMessages += 1
            return
        }
        guard log.appendAsFollower(entries) else {
            protocolViolations += 1
            return
        }
        let lastNew = prevIndex + LogIndex(entries.count)
        // §5.3 step 5: commitIndex = min(leaderCommit, index of last new entry).
        log.commit(to: min(leaderCommit, lastNew))
        noteRecoveryTarget(leaderCommit: leaderCommit, matchedThrough: lastNew)
        send(to: leaderID, .appendEntriesResponse(success: true, index: lastNew, hintTerm: 0, hintIndex: 0))
    }

    /// While recovering: remembers a commit index the leader reported that lies within what
    /// this message let our log match (never one cut short by the batch). Recovery ends on it
    /// only if its entry is of the leader's term (`maybeFinishRecovery`): then our log holds
    /// every entry committed before this term. Entries of this term the leader committed by
    /// counting acknowledgements from our old disk are covered too: the leader stops counting
    /// those (and sends heartbeats with commit 0) once we reject below them, which happens
    /// before our log can match it, and resumes only when we hold them again. A commit of an
    /// earlier term is only ever below a good target, so keeping the highest is enough.
    private mutating func noteRecoveryTarget(leaderCommit: LogIndex, matchedThrough: LogIndex) {
        guard recovering, leaderCommit > 0, leaderCommit <= matchedThrough else { return }
        recoveryTarget = max(recoveryTarget, leaderCommit)
    }

    // MARK: - InstallSnapshot, follower side (§7)

    private mutating func handleSnapshotChunk(from leaderID: NodeID, meta: SnapshotMetadata, offset: UInt64, totalSize: UInt64, chunk: [UInt8], done: Bool) {
        if meta.index <= log.committed {
            // Already covered: report it installed so the leader moves on.
            incomingSnapshot = nil
            send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: 0, done: true))
            return
        }
        guard totalSize <= config.maxSnapshotBytes, meta.term <= term, meta.config.contains(id) else {
            droppedMessages += 1
            return
        }
        if offset == 0 {
            incomingSnapshot = (meta, totalSize, [])
        }
        guard var inc = incomingSnapshot, inc.metadata == meta, inc.totalSize == totalSize,
              UInt64(inc.data.count) == offset else {
            // Out of order or from another snapshot: ask for what we need (0 restarts).
            let want = incomingSnapshot.map { $0.metadata == meta ? UInt64($0.data.count) : 0 } ?? 0
            send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: want, done: false))
            return
        }
        guard UInt64(inc.data.count) + UInt64(chunk.count) <= totalSize else {
            incomingSnapshot = nil
            send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: 0, done: false))
            return
        }
        incomingSnapshot = nil // avoid a copy-on-write of the buffer while we append
        inc.data.append(contentsOf: chunk)
        if !done {
            incomingSnapshot = inc
            send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: UInt64(inc.data.count), done: false))
            return
        }
        guard UInt64(inc.data.count) == totalSize, snapshotValidator(inc.data) else {
            // Bad transfer: start over.
            send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: 0, done: false))
            return
        }
        log.restore(meta)
        log.setAppliedFromSnapshot(meta.index)
        let snap = Snapshot(metadata: meta, data: inc.data)
        readySnapshot = snap
        latestSnapshot = snap
        // Sent after the snapshot is durable (Ready.messages).
        send(to: leaderID, .installSnapshotResponse(index: meta.index, nextOffset: totalSize, done: true))
    }

    func progressIndex(_ peer: NodeID) -> Int? {
        progress.firstIndex { $0.id == peer }
    }
}

extension RaftLog {
    /// A restored snapshot counts as applied: the caller restores it before applying
    /// anything later (Ready contract step 5).
    mutating func setAppliedFromSnapshot(_ index: LogIndex) {
        applied = max(applied, index)
        applying = max(applying, index)
    }
}
