/// The client's whole decision logic as a pure state machine: the session (registration,
/// sequences, window), routing (leader hint, endpoints backing off) and retry policy. It
/// performs no I/O and reads no clock; `KVClient` (sockets, real time) and the simulator's
/// clients (simulated network, ticks) are thin shells that feed it events.
public struct ClientCore<Endpoint: Hashable & Sendable>: Sendable {
    public var session: ClientSession
    public var router: EndpointRouter<Endpoint>
    public let policy: RetryPolicy

    public init(endpoints: [Endpoint], window: UInt64, policy: RetryPolicy, downMin: Duration, downMax: Duration) {
        session = ClientSession(window: window)
        router = EndpointRouter(endpoints: endpoints, downMin: downMin, downMax: downMax)
        self.policy = policy
    }

    /// Where the next attempt goes, or when an endpoint comes back up.
    public mutating func target(now: ClientTime) -> Result<Endpoint, EndpointRouter<Endpoint>.WaitUntil> {
        router.next(now: now)
    }

    /// An attempt at `e` produced a result (of any kind the host accepts).
    public mutating func succeeded(at e: Endpoint) { router.succeeded(e) }

    /// An attempt at `e` produced no result: update routing and decide when to retry.
    public mutating func handle(_ event: AttemptEvent<Endpoint>, at e: Endpoint, call: inout CallRetry,
                                now: ClientTime, afterLearning: Bool = false) -> RetryDecision {
        switch event {
        case let .notLeader(id, leader):
            let moved = router.redirect(leaderID: id, to: leader, from: e)
            if !moved && id != 0 && !afterLearning { return .learnMembers }
            let streak = call.redirected()
            if !moved || streak > policy.redirectsBeforeBackoff { return .retry(after: call.pause(now: now, policy: policy)) }
            return .retry(after: .zero)
        case .shuttingDown:
            router.failed(e, now: now)
            return .retry(after: .zero)
        case .unavailable:
            router.forgetLeader()
            return .retry(after: call.pause(now: now, policy: policy))
        case .busy:
            return .retry(after: call.pause(now: now, policy: policy))
        case .serverTimedOut:
            call.timedOut()
            return .retry(after: call.pause(now: now, policy: policy))
        case .dialFailed, .timedOut:
            call.resetRedirects()
            if case .timedOut = event { call.timedOut() }
            router.failed(e, now: now)
            return .retry(after: .zero)
        case .connectionLost:
            call.resetRedirects()
            router.forgetLeader()
            return .retry(after: call.pause(now: now, policy: policy))
        case .connectionRefused:
            call.resetRedirects()
            router.failed(e, now: now)
            return .retry(after: call.pause(now: now, policy: policy))
        }
    }
}
