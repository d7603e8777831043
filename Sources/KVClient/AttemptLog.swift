import Transport
import Wire

/// What happened across one call's attempts, to build an honest final error: whether the
/// request may have been applied, and what went wrong last.
struct AttemptLog {
    let operation: String
    let timeout: Duration
    private(set) var endpointsTried: [String] = []
    /// Some attempt may have reached a server that could apply it.
    private(set) var maybeApplied = false
    /// Some server answered at all.
    private(set) var reachedAny = false
    private(set) var lastProblem: String?
    /// Connection refusals per endpoint: a port nobody listens on.
    private var refusals: [String: Int] = [:]
    /// Endpoints that refused the connection as too busy (connection limits).
    private(set) var busyEndpoints: [String] = []
    /// The last "no quorum / no leader" reason a server gave.
    private(set) var unavailableReason: String?

    init(operation: String, timeout: Duration) {
        self.operation = operation
        self.timeout = timeout
    }

    mutating func tried(_ endpoint: String) {
        if !endpointsTried.contains(endpoint) { endpointsTried.append(endpoint) }
    }

    mutating func answered(by endpoint: SocketAddress, _ e: ClientError) {
        reachedAny = true
        lastProblem = "\(endpoint): \(e)"
        switch e {
        case .timeout: maybeApplied = true  // proposed, not seen to commit
        case let .unavailable(why): unavailableReason = why
        default: break
        }
    }

    mutating func failed(at endpoint: SocketAddress, _ f: CallFailure) {
        if f.maybeDelivered { maybeApplied = true }
        if case .serverClosed(.busy) = f, !busyEndpoints.contains(endpoint.description) {
            busyEndpoints.append(endpoint.description)
        }
        if case let .dial(e) = f {
            if case .connectionRefused = e { refusals[endpoint.description, default: 0] += 1 }
        } else {
            reachedAny = true
        }
        lastProblem = "\(endpoint): \(f)"
    }

    /// Every endpoint refused connections `times` times and nothing ever answered: nobody is
    /// listening, so waiting out the whole deadline would only delay the error.
    func nobodyListening(on endpoints: [SocketAddress], times: Int) -> Bool {
        !reachedAny && endpoints.allSatisfy { refusals[$0.description, default: 0] >= times }
    }

    /// The error to throw when the deadline passes.
    func finalError() -> KVClientError {
        if maybeApplied { return .timeout(operation: operation, after: timeout, lastProblem: lastProblem) }
        if !reachedAny { return .noEndpointReachable(tried: endpointsTried, lastProblem: lastProblem) }
        if !busyEndpoints.isEmpty, unavailableReason == nil {
            return .unavailable("server busy: \(busyEndpoints.joined(separator: ", ")) refused the connection (too many client"
                + " connections); \(operation) not applied; gave up after \(timeout.shortText)")
        }
        if let why = unavailableReason {
            return .unavailable("cluster unavailable: \(why) (\(operation) not applied; gave up after \(timeout.shortText))")
        }
        return .unavailable("no leader answered within \(timeout.shortText) (\(operation) not applied)"
            + (lastProblem.map { "; last problem: \($0)" } ?? ""))
    }
}
