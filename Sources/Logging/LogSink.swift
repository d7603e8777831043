#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Where log lines go. One sink is shared by all loggers of a process; its mutex makes each
/// line a single uninterrupted write, so lines from different threads never interleave.
public final class LogSink: Sendable {
    private enum Target {
        case fileDescriptor(Int32)
        case memory([String])
    }

    private let target: Mutex<Target>
    /// Unix time as (seconds, milliseconds); replaceable so tests get fixed timestamps.
    let clock: @Sendable () -> (Int64, Int)

    private init(_ target: Target, clock: @escaping @Sendable () -> (Int64, Int)) {
        self.target = Mutex(target)
        self.clock = clock
    }

    /// Writes to standard error.
    public static func standardError() -> LogSink { fileDescriptor(2) }

    /// Writes each line to `fd` (not closed by the sink).
    public static func fileDescriptor(_ fd: Int32, clock: @escaping @Sendable () -> (Int64, Int) = realtimeClock) -> LogSink {
        LogSink(.fileDescriptor(fd), clock: clock)
    }

    /// Keeps lines in memory (tests); read them with `lines`.
    public static func memory(clock: @escaping @Sendable () -> (Int64, Int) = realtimeClock) -> LogSink {
        LogSink(.memory([]), clock: clock)
    }

    /// Lines captured by a memory sink (empty for other sinks).
    public var lines: [String] {
        target.withLock { t in
            if case let .memory(lines) = t { return lines }
            return []
        }
    }

    /// `line` has no trailing newline.
    func write(_ line: String) {
        target.withLock { t in
            switch t {
            case let .fileDescriptor(fd):
                var bytes = Array(line.utf8)
                bytes.append(0x0A)
                writeAll(fd, bytes)
            case var .memory(lines):
                // Reassign after appending so the array is not copied while shared.
                t = .memory([])
                lines.append(line)
                t = .memory(lines)
            }
        }
    }
}

/// Loops over short writes and EINTR. Errors are dropped: logging must never take the
/// process down, and there is nowhere left to report a failing stderr.
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buf in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}

/// Wall-clock Unix time as (seconds, milliseconds).
@Sendable public func realtimeClock() -> (Int64, Int) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return (Int64(ts.tv_sec), Int(ts.tv_nsec / 1_000_000))
}
