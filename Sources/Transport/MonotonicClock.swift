import Glibc
import Posix

/// CLOCK_MONOTONIC: timers must not jump when the wall clock is adjusted.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        // CLOCK_MONOTONIC cannot fail on Linux; a zero reading would only make timers early.
        _ = try? syscall("clock_gettime", "CLOCK_MONOTONIC") { clock_gettime(CLOCK_MONOTONIC, &ts) }
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    public static func milliseconds() -> UInt64 { nanoseconds() / 1_000_000 }
}
