/// Leader side: replication, commitment, heartbeats, snapshot transfer. Flow control (what
/// may be sent, what is in flight, when it counts as lost) lives in `Progress`.
extension RaftNode {
    /// Sends AppendEntries to follower `i` while its progress allows: one in probe state;
    /// in replicate state, streams what remains up to the inflight window (pipelining).
    /// `allowEmpty` sends even with no new entries (to carry commit or provoke a hint).
    mutating func sendAppend(_ i: Int, allowEmpty: Bool) {
        var allowEmpty = allowEmpty
        while progress[i].canSendAppend {
            let pr = progress[i]
            let prevIndex = pr.next - 1
            guard let prevTerm = log.term(at: prevIndex) else {
                // The entries this follower needs are compacted: fall back to the snapshot (§7).
                startSnapshot(i)
                return
            }
            let entries = log.slice(from: pr.next, through: log.lastIndex,
                                    maxCount: config.maxEntriesPerAppend, maxBytes: config.maxBytesPerAppend)
            if entries.isEmpty && !allowEmpty && (pr.state == .replicate || pr.match >= log.lastIndex) { return }
            send(to: pr.id, .appendEntries(prevLogIndex: prevIndex, prevLogTerm: prevTerm, entries: entries,
                                           leaderCommit: log.committed))
            progress[i].sentAppend(last: entries.last?.index, now: now)
            guard progress[i].state == .replicate, let last = entries.last, last.index < log.lastIndex else { return }
            allowEmpty = false
        }
    }

    mutating func broadcastHeartbeat() {
        for i in progress.indices {
            let pr = progress[i]
            // Never tell a follower to commit beyond what we know it holds; nothing at all
            // while it is being repaired after losing entries (see noteRecoveryTarget).
            let commit = pr.lostThrough > pr.match ? 0 : min(pr.match, log.committed)
            send(to: pr.id, .heartbeat(commit: commit))
        }
    }

    func quorumActive() -> Bool {
        let active = 1 + progress.filter { $0.recentActive }.count
        return active >= cluster.quorum
    }

    /// Resets activity flags after each quorum check.
    mutating func clearActivity() {
        for i in progress.indices { progress[i].recentActive = false }
    }

    /// checkN (§5.3, §5.4.2, Figure 8): commit the highest N held by a majority whose
    /// entry is from the current term. This node counts only what it has persisted.
    @discardableResult
    mutating func maybeCommit() -> Bool {
        // A follower that lost acknowledged entries counts only once it holds them again.
        var matches = progress.map(\.commitMatch)
        matches.append(log.persisted)
        matches.sort(by: >)
        let n = matches[cluster.quorum - 1]
        // An entry from an earlier term is never committed by counting replicas.
        guard n > log.committed, log.term(at: n) == term else { return false }
        log.commit(to: n)
        return true
    }

    mutating func handleAppendSuccess(_ i: Int, index: LogIndex) {
        guard index <= log.lastIndex else { droppedMessages += 1; return }
        let advanced = progress[i].acknowledge(index, now: now)
        switch progress[i].state {
        case .probe:
            progress[i].becomeReplicate()
        case .snapshot:
            if progress[i].match >= snapshotPendingIndex(progress[i]) { progress[i].becomeProbe() }
        case .replicate:
            break
        }
        if advanced && maybeCommit() {
            // Followers learn the new commit index with the next append.
            pendingBroadcast = true
        }
        sendAppend(i, allowEmpty: false)
    }

    mutating func handleAppendRejection(_ i: Int, rejected: LogIndex, hintTerm: Term, hintIndex: LogIndex) {
        let next: LogIndex
        if hintTerm == 0 {
            next = hintIndex
        } else if let last = log.lastIndex(ofTerm: hintTerm, atOrBelow: rejected) {
            // We have the follower's conflicting term: resume after our last entry of it.
            next = last + 1
        } else {
            // We lack that term entirely: skip all of the follower's entries of it.
            next = hintIndex
        }
        switch progress[i].rejected(rejected, retryFrom: next, lastIndex: log.lastIndex) {
        case .stale:
            return
        case .retry, .checkMatch:
            break
        case let .lostEntries(acknowledged):
            // Loud: a disk lost entries it had promised were durable.
            followersFoundWithLostEntries += 1
            events.append(.followerLostEntries(peer: progress[i].id, index: rejected, acknowledged: acknowledged))
        }
        sendAppend(i, allowEmpty: true)
    }

    mutating func handleHeartbeatResponse(_ i: Int) {
        progress[i].recentActive = true
        // The follower is alive: has what we sent it been out too long to still be coming?
        let lost = progress[i].lossSuspected(now: now, heartbeatTicks: config.heartbeatTicks, electionTicks: config.electionTicks)
        if lost { progress[i].lossDetected() }
        switch progress[i].state {
        case .probe:
            break
        case .replicate:
            // A lost append (or its ack): resend from the known match, one probe at a time.
            if lost { progress[i].becomeProbe() }
        case .snapshot:
            // The chunk or its answer was lost: resend it.
            if lost { sendSnapshotChunk(i) }
            return
        }
        if progress[i].match < log.lastIndex || progress[i].match < log.committed {
            sendAppend(i, allowEmpty: progress[i].state == .probe)
        }
    }

    // MARK: - Snapshot transfer (§7)

    private mutating func startSnapshot(_ i: Int) {
        // Compaction always follows a local snapshot, so one exists whenever entries are gone.
        guard let snap = latestSnapshot else { preconditionFailure("entries compacted without a snapshot to send") }
        progress[i].becomeSnapshot(index: snap.metadata.index)
        sendSnapshotChunk(i)
    }

    func snapshotPendingIndex(_ pr: Progress) -> LogIndex {
        if case let .snapshot(index, _) = pr.state { return index }
        return 0
    }

    /// Sends the chunk at the follower's current offset, restarting with a newer snapshot
    /// if ours changed since the transfer began.
    mutating func sendSnapshotChunk(_ i: Int) {
        guard case let .snapshot(index, offset) = progress[i].state, let snap = latestSnapshot else { return }
        if snap.metadata.index != index {
            progress[i].becomeSnapshot(index: snap.metadata.index)
            sendSnapshotChunk(i)
            return
        }
        let total = UInt64(snap.data.count)
        let start = Int(min(offset, total))
        let end = min(snap.data.count, start + config.snapshotChunkBytes)
        let done = end == snap.data.count
        send(to: progress[i].id, .installSnapshot(metadata: snap.metadata, offset: UInt64(start), totalSize: total,
                                                  chunk: Array(snap.data[start..<end]), done: done))
        progress[i].sentSnapshotChunk(now: now)
    }

    mutating func handleSnapshotResponse(_ i: Int, index: LogIndex, nextOffset: UInt64, done: Bool) {
        guard case let .snapshot(pending, _) = progress[i].state else {
            if done { _ = progress[i].acknowledge(min(index, log.lastIndex), now: now) }
            return
        }
        if done {
            _ = progress[i].acknowledge(min(index, log.lastIndex), now: now)
            progress[i].becomeProbe()
            if progress[i].match >= pending || index >= pending {
                sendAppend(i, allowEmpty: true)
            }
            return
        }
        guard index == pending else { return }
        progress[i].snapshotContinues(index: pending, offset: nextOffset)
        sendSnapshotChunk(i)
    }
}
