import Transport

/// Decides where the next attempt goes: the known leader first, else the configured
/// endpoints round-robin, skipping ones that recently refused connections.
struct EndpointRouter: Sendable {
    let endpoints: [SocketAddress]
    /// Where the last success or a redirect pointed.
    private(set) var leader: SocketAddress?
    /// Member id → client address, from the last member list (to follow id-only redirects).
    private(set) var memberAddresses: [UInt64: SocketAddress] = [:]
    private var cursor = 0
    private var down: [SocketAddress: (until: ContinuousClock.Instant, failures: Int)] = [:]
    let downMin: Duration
    let downMax: Duration

    init(endpoints: [SocketAddress], downMin: Duration, downMax: Duration) {
        precondition(!endpoints.isEmpty, "at least one endpoint")
        self.endpoints = endpoints
        self.downMin = downMin
        self.downMax = downMax
    }

    /// The endpoint to try now, or the instant at which one comes back up.
    mutating func next(now: ContinuousClock.Instant) -> Result<SocketAddress, WaitUntil> {
        if let leader, !isDown(leader, now: now) { return .success(leader) }
        for _ in 0..<endpoints.count {
            let e = endpoints[cursor % endpoints.count]
            cursor += 1
            if !isDown(e, now: now) { return .success(e) }
        }
        let earliest = endpoints.compactMap { down[$0]?.until }.min() ?? now
        return .failure(WaitUntil(instant: earliest))
    }

    struct WaitUntil: Error { let instant: ContinuousClock.Instant }

    /// A call succeeded at `e`: it is (or was) the leader.
    mutating func succeeded(_ e: SocketAddress) {
        leader = e
        down[e] = nil
    }

    /// `e` cannot be reached or stopped answering: skip it for a while (doubling).
    mutating func failed(_ e: SocketAddress, now: ContinuousClock.Instant) {
        if leader == e { leader = nil }
        let failures = (down[e]?.failures ?? 0) + 1
        var wait = downMin * (1 << min(failures - 1, 10))
        if wait > downMax { wait = downMax }
        down[e] = (now + wait, failures)
    }

    /// A server named the leader; nil means it knows none (election in progress).
    /// Returns whether the hint names somewhere new to go.
    @discardableResult
    mutating func redirect(leaderID: UInt64, address: String?, from e: SocketAddress) -> Bool {
        if leader == e { leader = nil }
        var target: SocketAddress?
        if let address, let a = try? SocketAddress(parsing: address) { target = a }
        else if leaderID != 0 { target = memberAddresses[leaderID] }
        guard let target, target != e else { return false }
        leader = target
        down[target] = nil  // the server just vouched for it
        return true
    }

    /// Forgets the leader hint (it stopped answering or stepped down).
    mutating func forgetLeader() { leader = nil }

    mutating func learnMembers(_ members: [(id: UInt64, clientURL: String)]) {
        for m in members {
            if let a = try? SocketAddress(parsing: m.clientURL) { memberAddresses[m.id] = a }
        }
    }

    private func isDown(_ e: SocketAddress, now: ContinuousClock.Instant) -> Bool {
        guard let d = down[e] else { return false }
        return d.until > now
    }
}
