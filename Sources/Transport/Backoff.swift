/// Exponential reconnect delay with "equal jitter": attempt n waits a uniform time in
/// [b/2, b] where b = min(max, min * 2^n). The jitter spreads replicas that lost a peer at the
/// same moment; the floor of b/2 keeps retries from hammering.
public struct Backoff: Sendable {
    public let minMilliseconds: Int
    public let maxMilliseconds: Int
    public private(set) var attempts = 0

    public init(minMilliseconds: Int, maxMilliseconds: Int) {
        self.minMilliseconds = max(1, minMilliseconds)
        self.maxMilliseconds = max(self.minMilliseconds, maxMilliseconds)
    }

    /// The un-jittered delay for the next attempt.
    public var currentCeiling: Int {
        let shift = min(attempts, 40)
        let (scaled, overflow) = minMilliseconds.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? maxMilliseconds : min(maxMilliseconds, scaled)
    }

    public mutating func nextDelay<R: RandomNumberGenerator>(using random: inout R) -> Int {
        let ceiling = currentCeiling
        attempts += 1
        return Int.random(in: (ceiling - ceiling / 2)...ceiling, using: &random)
    }

    public mutating func reset() { attempts = 0 }
}

/// Adapts a closure to RandomNumberGenerator so an injected source can be stored.
struct ClosureRandom: RandomNumberGenerator {
    let source: () -> UInt64
    mutating func next() -> UInt64 { source() }
}
