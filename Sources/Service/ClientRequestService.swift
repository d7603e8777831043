import KV
import Raft
import Replica
import Storage
import Wire

/// The client-request lifecycle, shared by kvd and the simulator: admit a request, propose
/// it to the replica, resolve it when its entry is applied or overwritten, expire it at its
/// deadline, and map the outcome to the `ClientReply` that goes on the wire.
///
/// Transport-free: the host names callers with `RequestOrigin`s, supplies the time (in its
/// own units: nanoseconds in kvd, ticks in the simulator) and delivers what `deliver` is
/// handed. One thread (the replica's) calls everything.
public final class ClientRequestService {
    public struct Limits: Sendable, Equatable {
        /// Requests awaiting their outcome, over all callers (admission refuses `busy` beyond).
        public var maxPending: Int = 16_384
        /// ... and per caller (one kvd connection, one simulated client).
        public var maxInflightPerCaller: Int = 1_024
        /// The server's own deadline for a request, in the host's clock units (0: none). A
        /// caller's shorter deadline wins.
        public var requestTimeout: UInt64 = 0
        /// A caller's deadline is shortened by a tenth of it, at most this much, so that the
        /// `timedOut` answer reaches the caller before it gives up (kvd: 100 ms).
        public var deadlineMarginCap: UInt64 = 0
        public init() {}
    }

    public let replica: Replica
    public let limits: Limits
    unowned let view: ClusterView
    private var pending = PendingTable()
    /// Requests whose index was reused before their outcome was seen (see `submit`); they
    /// are answered `timedOut` at the next `process` or `expire`.
    private var orphans: [RequestOrigin] = []

    public init(replica: Replica, limits: Limits, view: ClusterView) {
        self.replica = replica
        self.limits = limits
        self.view = view
    }

    public var pendingCount: Int { pending.count }
    public func inFlight(caller: UInt64) -> Int { pending.inFlight(caller) }
    public func isInFlight(_ origin: RequestOrigin) -> Bool { pending.contains(origin) }
    /// When `expire` next has work, if ever (the host may arm a timer for it).
    public var nextDeadline: UInt64? { pending.nextDeadline }

    // MARK: Admit and propose

    /// A client request (the common case).
    public func submit(_ request: ClientRequest, from origin: RequestOrigin, now: UInt64,
                       timeout: UInt64? = nil) -> ClientOutcome? {
        submit(.request(request), from: origin, now: now, timeout: timeout)
    }

    /// Admits and proposes `command` (a client request or a session registration). Returns the outcome when it is decided at once (refused,
    /// nothing happened); nil when it was proposed, and the outcome comes through
    /// `process`'s or `expire`'s `deliver` later.
    /// `timeout` is the caller's own deadline, relative to `now` (nil: the server's alone);
    /// the service answers a margin before it (`Limits.deadlineMarginCap`).
    public func submit(_ command: LogCommand, from origin: RequestOrigin, now: UInt64,
                       timeout: UInt64? = nil) -> ClientOutcome? {
        if let refusal = admissionRefusal(command, from: origin) { return refusal }
        let deadline = self.deadline(now: now, timeout: timeout)
        guard deadline > now else { return .timedOut }  // already past: drop the work, nothing happened
        let placed: (index: LogIndex, term: Term)
        do {
            placed = try replica.propose(command)
        } catch {
            switch error {
            case let .notLeader(leader): return .notLeader(leader: leader)
            case .busy: return .busy
            case let .tooLarge(_, limit): return .tooLarge(limit: "proposal", bytes: limit)
            }
        }
        // An index is reused only after our log was cut below it without us hearing of it
        // (should not happen: `.replaced` and `.restored` cover it); never lose a caller to it.
        if let stale = pending.remove(at: placed.index) { orphans.append(stale.origin) }
        pending.add(index: placed.index, term: placed.term, origin: origin, deadline: deadline)
        return nil
    }

    /// The protocol rules a request must pass before it may cost a log entry.
    private func admissionRefusal(_ command: LogCommand, from origin: RequestOrigin) -> ClientOutcome? {
        if pending.contains(origin) {
            return .badRequest("request id \(origin.requestID) is already in flight on this connection")
        }
        if case let .request(request) = command, request.command.key.isEmpty { return .badRequest("key must not be empty") }
        if pending.count >= limits.maxPending || pending.inFlight(origin.caller) >= limits.maxInflightPerCaller {
            return .busy
        }
        return nil
    }

    private func deadline(now: UInt64, timeout: UInt64?) -> UInt64 {
        var budget: UInt64? = limits.requestTimeout > 0 ? limits.requestTimeout : nil
        if let timeout {
            let callers = timeout - min(timeout / 10, limits.deadlineMarginCap)
            budget = min(budget ?? callers, callers)
        }
        guard let budget else { return UInt64.max }
        let (sum, overflow) = now.addingReportingOverflow(budget)
        return overflow ? UInt64.max - 1 : sum
    }

    // MARK: Resolve

    /// Runs the replica's Ready loop and resolves requests from what it reports.
    public func process(send: (Message) -> Void, beforePersist: () -> Void = {},
                        deliver: (RequestOrigin, ClientOutcome) -> Void) throws(StorageError) {
        deliverOrphans(deliver)
        try replica.process(send: send, events: { event in
            guard !pending.isEmpty else { return }
            resolve(event, deliver)
        }, beforePersist: beforePersist)
    }

    /// `process` phase by phase (see `Replica.nextReady`), for a host whose disk takes time
    /// (the simulator): it runs the replica's `nextReady`, `write` and `sync` itself and hands
    /// each Ready here to send its promises, apply, and resolve requests.
    public func finish(_ rd: Ready, send: (Message) -> Void,
                       deliver: (RequestOrigin, ClientOutcome) -> Void) throws(StorageError) {
        deliverOrphans(deliver)
        try replica.finish(rd, send: send, events: { event in
            guard !pending.isEmpty else { return }
            resolve(event, deliver)
        })
    }

    private func resolve(_ event: ReplicaEvent, _ deliver: (RequestOrigin, ClientOutcome) -> Void) {
        switch event {
        case let .applied(index, term, result):
            guard let r = pending.remove(at: index) else { return }
            // Another leader's entry at our index: ours was not applied, a retry is safe.
            if r.term == term, let result { deliver(r.origin, .result(result)) } else { deliver(r.origin, .dropped) }
        case let .replaced(from):
            dropOverwritten(from: from, deliver)
        case let .restored(through):
            // Covered by the snapshot: applied or not, we cannot tell. Say so now rather than
            // leaving the caller to its deadline.
            for i in pending.indexes(through: through) {
                if let r = pending.remove(at: i) { deliver(r.origin, .timedOut) }
            }
            dropOverwritten(from: through + 1, deliver)
        }
    }

    /// Proposals from `index` on whose entry no longer carries their term will never apply.
    private func dropOverwritten(from index: LogIndex, _ deliver: (RequestOrigin, ClientOutcome) -> Void) {
        let log = replica.node.log
        for i in pending.indexes(from: index) where log.term(at: i) != pending.byIndex[i]?.term {
            if let r = pending.remove(at: i) { deliver(r.origin, .dropped) }
        }
    }

    /// Answers requests orphaned since the last call (the phase-by-phase host calls it once
    /// per turn; `process` does it itself).
    public func deliverOrphans(_ deliver: (RequestOrigin, ClientOutcome) -> Void) {
        guard !orphans.isEmpty else { return }
        let list = orphans
        orphans.removeAll()
        for o in list { deliver(o, .timedOut) }
    }

    // MARK: Expire and forget

    /// Answers `timedOut` to every request whose deadline is at or before `now`. The entry
    /// may still apply later; the caller retries with the same sequence and the session
    /// dedupes it.
    public func expire(now: UInt64, deliver: (RequestOrigin, ClientOutcome) -> Void) {
        deliverOrphans(deliver)
        for (_, r) in pending.removeExpired(now: now) { deliver(r.origin, .timedOut) }
    }

    /// The caller is gone (connection closed): its outcomes have nowhere to go.
    public func forget(caller: UInt64) {
        for i in pending.indexes(of: caller) { _ = pending.remove(at: i) }
        orphans.removeAll { $0.caller == caller }
    }

    /// Shutting down: every pending request is answered `timedOut` (outcome unknown).
    public func drainAll(deliver: (RequestOrigin, ClientOutcome) -> Void) {
        deliverOrphans(deliver)
        for (_, r) in pending.removeAll() { deliver(r.origin, .timedOut) }
    }
}
