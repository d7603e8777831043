/// Rate-limits repeated log lines per cause: the first line of a cause goes out, further
/// lines of that cause within `window` are counted instead, and the next line after the
/// window carries `suppressed=N`. A flood of one failure (say, refused peer connections)
/// then costs a few lines per window, not one per event. Single-threaded (one per loop).
public final class RepeatLimiter {
    /// Nanoseconds between lines of one cause.
    public let window: UInt64
    private var causes: [String: (lastLine: UInt64, suppressed: Int)] = [:]
    /// Bound on tracked causes; beyond it the oldest entries are forgotten (a cause key must
    /// not itself become unbounded memory).
    public let maxCauses: Int

    public init(windowMilliseconds: Int = 5_000, maxCauses: Int = 1_024) {
        window = UInt64(max(0, windowMilliseconds)) * 1_000_000
        self.maxCauses = max(1, maxCauses)
    }

    /// nil: suppress this line. Otherwise log it, adding `suppressed=N` when N > 0.
    public func admit(cause: String, now: UInt64) -> Int? {
        if let c = causes[cause], now &- c.lastLine < window {
            causes[cause] = (c.lastLine, c.suppressed + 1)
            return nil
        }
        let suppressed = causes[cause]?.suppressed ?? 0
        if causes[cause] == nil && causes.count >= maxCauses {
            // Forget the cause idle longest.
            if let oldest = causes.min(by: { $0.value.lastLine < $1.value.lastLine })?.key { causes[oldest] = nil }
        }
        causes[cause] = (now, 0)
        return suppressed
    }
}
