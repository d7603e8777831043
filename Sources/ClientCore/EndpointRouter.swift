/// A point on the client's monotonic clock: time since an arbitrary origin. kvd clients use
/// real time, simulated clients ticks (one tick = one millisecond of this clock).
public typealias ClientTime = Duration

/// Decides where the next attempt goes: the known leader first, else the configured
/// endpoints round-robin, skipping ones that recently failed. Pure: time is passed in.
public struct EndpointRouter<Endpoint: Hashable & Sendable>: Sendable {
    public let endpoints: [Endpoint]
    /// Where the last success or a redirect pointed.
    public private(set) var leader: Endpoint?
    /// Member id → endpoint, from the last member list (to follow id-only redirects).
    public private(set) var memberAddresses: [UInt64: Endpoint] = [:]
    private var cursor = 0
    private var down: [Endpoint: (until: ClientTime, failures: Int)] = [:]
    public let downMin: Duration
    public let downMax: Duration

    public init(endpoints: [Endpoint], downMin: Duration, downMax: Duration) {
        precondition(!endpoints.isEmpty, "at least one endpoint")
        self.endpoints = endpoints
        self.downMin = downMin
        self.downMax = downMax
    }

    /// The endpoint to try now, or the time at which one comes back up.
    public mutating func next(now: ClientTime) -> Result<Endpoint, WaitUntil> {
        if let leader, !isDown(leader, now: now) { return .success(leader) }
        for _ in 0..<endpoints.count {
            let e = endpoints[cursor % endpoints.count]
            cursor += 1
            if !isDown(e, now: now) { return .success(e) }
        }
        let earliest = endpoints.compactMap { down[$0]?.until }.min() ?? now
        return .failure(WaitUntil(time: earliest))
    }

    public struct WaitUntil: Error { public let time: ClientTime }

    /// A call succeeded at `e`: it is (or was) the leader.
    public mutating func succeeded(_ e: Endpoint) {
        leader = e
        down[e] = nil
    }

    /// `e` cannot be reached or stopped answering: skip it for a while (doubling).
    public mutating func failed(_ e: Endpoint, now: ClientTime) {
        if leader == e { leader = nil }
        let failures = (down[e]?.failures ?? 0) + 1
        var wait = downMin * (1 << min(failures - 1, 10))
        if wait > downMax { wait = downMax }
        down[e] = (now + wait, failures)
    }

    /// A server named the leader (`target`, or only its id; 0 = it knows none).
    /// Returns whether the hint names somewhere new to go.
    @discardableResult
    public mutating func redirect(leaderID: UInt64, to target: Endpoint?, from e: Endpoint) -> Bool {
        if leader == e { leader = nil }
        guard let target = target ?? (leaderID != 0 ? memberAddresses[leaderID] : nil), target != e else { return false }
        leader = target
        down[target] = nil  // the server just vouched for it
        return true
    }

    /// Forgets the leader hint (it stopped answering or stepped down).
    public mutating func forgetLeader() { leader = nil }

    public mutating func learnMembers(_ members: [(id: UInt64, endpoint: Endpoint)]) {
        for m in members { memberAddresses[m.id] = m.endpoint }
    }

    private func isDown(_ e: Endpoint, now: ClientTime) -> Bool {
        guard let d = down[e] else { return false }
        return d.until > now
    }
}
