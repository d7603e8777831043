/// Leader side: replication, commitment, heartbeats, snapshot transfer.
extension RaftNode {
    /// Sends the next AppendEntries to follower `i` if its progress state allows.
    /// `allowEmpty` sends even with no new entries (to carry commit or provoke a hint).
    mutating func sendAppend(_ i: Int, allowEmpty: Bool) {
        let pr = progress[i]
        switch pr.state {
        case .snapshot:
            return
        case .probe:
            if pr.paused { return }
        case .replicate:
            if pr.inflight.count >= config.maxInflightAppends { return }
        }
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
                                       leaderCommit: log.committed), eager: true)
        if pr.state == .replicate {
            if let last = entries.last {
                progress[i].next = last.index + 1
                progress[i].inflight.append(last.index)
                // Pipelining: keep streaming while entries remain and the window allows.
                if last.index < log.lastIndex { sendAppend(i, allowEmpty: false) }
            }
        } else {
            progress[i].paused = true
        }
    }

    mutating func broadcastHeartbeat() {
        for i in progress.indices {
            let pr = progress[i]
            // Never tell a follower to commit beyond what we know it holds; nothing at all
            // while it is being repaired after losing entries (see noteRecoveryTarget).
            let commit = pr.lostThrough > pr.match ? 0 : min(pr.match, log.committed)
            send(to: pr.id, .heartbeat(commit: commit), eager: true)
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
        let advanced = progress[i].acknowledge(index)
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
        let pr = progress[i]
        switch pr.state {
        case .replicate:
            if rejected <= pr.match {
                // Either a stale answer (reordered) or the follower lost acknowledged entries.
                // Probe at `match`: a follower that holds it accepts, one that lost it rejects.
                // (Index 0 always matches, so its rejection is a stale-term answer.)
                if rejected > 0 {
                    progress[i].becomeProbe()
                    sendAppend(i, allowEmpty: true)
                }
                return
            }
        case .probe:
            // Stale unless it answers the probe we sent.
            if rejected != pr.next - 1 { return }
            if pr.match > 0 && rejected == pr.match {
                // It rejects the very entry it acknowledged: its disk lost it.
                followersFoundWithLostEntries += 1
                events.append(.followerLostEntries(peer: pr.id, index: rejected, acknowledged: pr.match))
                progress[i].lostEntries()
            }
        case .snapshot:
            return
        }
        var next: LogIndex
        if hintTerm == 0 {
            next = hintIndex
        } else if let last = log.lastIndex(ofTerm: hintTerm, atOrBelow: rejected) {
            // We have the follower's conflicting term: resume after our last entry of it.
            next = last + 1
        } else {
            // We lack that term entirely: skip all of the follower's entries of it.
            next = hintIndex
        }
        progress[i].becomeProbe()
        // Clamped to our log: a confused or lying peer must not push next past our end.
        progress[i].next = max(progress[i].match + 1, min(next, rejected, log.lastIndex + 1))
        sendAppend(i, allowEmpty: true)
    }

    mutating func handleHeartbeatResponse(_ i: Int) {
        progress[i].recentActive = true
        switch progress[i].state {
        case .probe:
            progress[i].paused = false
        case .replicate:
            // If nothing was acknowledged over a heartbeat interval while entries are
            // outstanding, an append was lost: probe from the known match.
            if progress[i].match < log.lastIndex && progress[i].match == progress[i].matchAtLastHeartbeat
                && (!progress[i].inflight.isEmpty || progress[i].next <= log.lastIndex) {
                progress[i].becomeProbe()
            }
        case .snapshot:
            // The chunk or its answer may be lost: resend it.
            progress[i].paused = false
            sendSnapshotChunk(i)
            return
        }
        progress[i].matchAtLastHeartbeat = progress[i].match
        if progress[i].match < log.lastIndex || progress[i].match < log.committed {
            sendAppend(i, allowEmpty: true)
        }
    }

    // MARK: - Snapshot transfer (§7)

    private mutating func startSnapshot(_ i: Int) {
        // Compaction always follows a local snapshot, so one exists whenever entries are gone.
        guard let snap = latestSnapshot else { preconditionFailure("entries compacted without a snapshot to send") }
        progress[i].state = .snapshot(index: snap.metadata.index, offset: 0)
        progress[i].inflight.removeAll()
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
            progress[i].state = .snapshot(index: snap.metadata.index, offset: 0)
            sendSnapshotChunk(i)
            return
        }
        let total = UInt64(snap.data.count)
        let start = Int(min(offset, total))
        let end = min(snap.data.count, start + config.snapshotChunkBytes)
        let done = end == snap.data.count
        send(to: progress[i].id, .installSnapshot(metadata: snap.metadata, offset: UInt64(start), totalSize: total,
                                                  chunk: Array(snap.data[start..<end]), done: done), eager: true)
        progress[i].paused = true
    }

    mutating func handleSnapshotResponse(_ i: Int, index: LogIndex, nextOffset: UInt64, done: Bool) {
        guard case let .snapshot(pending, _) = progress[i].state else {
            if done { _ = progress[i].acknowledge(min(index, log.lastIndex)) }
            return
        }
        if done {
            _ = progress[i].acknowledge(min(index, log.lastIndex))
            progress[i].becomeProbe()
            if progress[i].match >= pending || index >= pending {
                sendAppend(i, allowEmpty: true)
            }
            return
        }
        guard index == pending else { return }
        progress[i].state = .snapshot(index: pending, offset: nextOffset)
        progress[i].paused = false
        sendSnapshotChunk(i)
    }
}
