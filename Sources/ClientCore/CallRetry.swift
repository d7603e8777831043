/// How a client backs off between attempts. Shared by KVClient and the simulated clients.
public struct RetryPolicy: Sendable, Equatable {
    /// Delay between retries when no leader is known or a server is busy: doubles from min to max.
    public var backoffMin: Duration
    public var backoffMax: Duration
    /// Redirects in a row followed at once before slowing down (stale hints can ping-pong
    /// during an election).
    public var redirectsBeforeBackoff = 3

    public init(backoffMin: Duration, backoffMax: Duration) {
        self.backoffMin = backoffMin
        self.backoffMax = backoffMax
    }
}

/// What one attempt produced, as far as routing and retrying care. Hosts map their own
/// transport results to this (kvd clients: ClientError and CallFailure; the simulator:
/// ClientOutcome and its attempt timeout). Results and fatal errors stay with the host.
public enum AttemptEvent<Endpoint: Hashable & Sendable>: Sendable {
    /// Not the leader; `leader` when the host could resolve where it is, `leaderID` 0 when
    /// the server knows no leader.
    case notLeader(leaderID: UInt64, leader: Endpoint?)
    /// No quorum / no leader (or the proposal was overwritten): forget the hint, back off.
    case unavailable
    /// Busy (queue full): back off, same sequence.
    case busy
    /// The server answered `timeout`: proposed but not applied within the attempt's deadline
    /// (outcome unknown). Retry with the same sequence and a longer attempt timeout.
    case serverTimedOut
    /// The server is shutting down: try another.
    case shuttingDown
    /// No connection could be made.
    case dialFailed
    /// No reply within the attempt's timeout (paused or partitioned): try another.
    case timedOut
    /// The connection broke mid-call: forget the hint, back off.
    case connectionLost
    /// The server refused the whole connection (full, or stopping) before reading a request:
    /// skip it for a while and back off.
    case connectionRefused
}

/// What to do after an attempt that produced no result.
public enum RetryDecision: Sendable, Equatable {
    /// Send again (to `ClientCore.target`) after this long (zero: at once).
    case retry(after: Duration)
    /// Fetch the member list to resolve an id-only redirect, then call `handle` again with
    /// `afterLearning: true`.
    case learnMembers
}

/// One call's retry bookkeeping: its deadline, current back-off and redirect streak.
public struct CallRetry: Sendable {
    /// Nil: retry until the host stops (the simulator's clients).
    public let deadline: ClientTime?
    private var backoff: Duration
    private var redirectsInRow = 0
    /// Attempts of this call that timed out. Each doubles the next attempt's timeout (up to
    /// 8x): a leader slower than the timeout would otherwise get ever more copies of the same
    /// request proposed, each adding to the queue that made it slow (congestion collapse).
    private var timeouts = 0

    public init(now: ClientTime, timeout: Duration?, policy: RetryPolicy) {
        deadline = timeout.map { now + $0 }
        backoff = policy.backoffMin
    }

    public func expired(now: ClientTime) -> Bool { deadline.map { now >= $0 } ?? false }

    /// Time left before the deadline (nil: no deadline).
    public func remaining(now: ClientTime) -> Duration? { deadline.map { $0 - now } }

    mutating func pause(now: ClientTime, policy: RetryPolicy) -> Duration {
        var wait = backoff
        if let left = remaining(now: now) { wait = max(.zero, min(wait, left)) }
        backoff = min(backoff * 2, policy.backoffMax)
        return wait
    }

    /// How long to wait for a reply to the next attempt, given the host's base timeout.
    public func attemptTimeout(base: Duration) -> Duration { base * (1 << min(timeouts, 3)) }

    mutating func timedOut() { timeouts += 1 }

    mutating func redirected() -> Int {
        redirectsInRow += 1
        return redirectsInRow
    }

    mutating func resetRedirects() { redirectsInRow = 0 }
}
