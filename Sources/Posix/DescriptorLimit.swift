#if canImport(Glibc)
import Glibc
#endif

/// RLIMIT_NOFILE: how many descriptors this process may hold.
public struct DescriptorLimit: Sendable, Equatable {
    public var soft: Int
    public var hard: Int

    public init(soft: Int, hard: Int) {
        self.soft = soft
        self.hard = hard
    }

    public static func current() throws(SystemError) -> DescriptorLimit {
        var r = rlimit()
        _ = try syscall("getrlimit", "RLIMIT_NOFILE") { getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) }
        return DescriptorLimit(soft: clamp(r.rlim_cur), hard: clamp(r.rlim_max))
    }

    /// Raises the soft limit to the hard one (a server should use what it is allowed) and
    /// returns the limit now in force.
    @discardableResult
    public static func raiseToHard() throws(SystemError) -> DescriptorLimit {
        var r = rlimit()
        _ = try syscall("getrlimit", "RLIMIT_NOFILE") { getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) }
        if r.rlim_cur < r.rlim_max {
            var raised = r
            raised.rlim_cur = r.rlim_max
            _ = try syscall("setrlimit", "RLIMIT_NOFILE") { setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) }
        }
        return try current()
    }

    private static func clamp(_ v: rlim_t) -> Int {
        v > rlim_t(Int32.max) ? Int(Int32.max) : Int(v)  // RLIM_INFINITY is the largest value
    }
}
