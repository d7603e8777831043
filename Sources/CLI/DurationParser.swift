/// Parses Go/etcd-style durations: one or more `<number><unit>` terms, e.g. "100ms", "2s",
/// "1m30s", "1.5h". Units: ns, us (or µs), ms, s, m, h. "0" alone is allowed. Negative
/// durations are rejected: every duration flag here is a timeout or interval.
public func parseDuration(_ text: String) -> Duration? {
    if text == "0" { return .zero }
    let scalars = Array(text.unicodeScalars)
    guard !scalars.isEmpty, scalars.count <= 64 else { return nil }
    var i = 0
    var totalNanos: Double = 0
    while i < scalars.count {
        // Number: digits with at most one '.', at least one digit.
        var number = ""
        var sawDigit = false, sawDot = false
        while i < scalars.count {
            let c = scalars[i]
            if c.properties.numericType != nil, c.isASCII { sawDigit = true; number.unicodeScalars.append(c) }
            else if c == ".", !sawDot { sawDot = true; number.unicodeScalars.append(c) }
            else { break }
            i += 1
        }
        guard sawDigit, let value = Double(number) else { return nil }
        var unit = ""
        while i < scalars.count, !(scalars[i].isASCII && (scalars[i].properties.numericType != nil || scalars[i] == ".")) {
            unit.unicodeScalars.append(scalars[i])
            i += 1
        }
        let scale: Double
        switch unit {
        case "ns": scale = 1
        case "us", "µs", "μs": scale = 1e3
        case "ms": scale = 1e6
        case "s": scale = 1e9
        case "m": scale = 60e9
        case "h": scale = 3600e9
        default: return nil
        }
        totalNanos += value * scale
    }
    // Keep within what Int64 nanoseconds can hold (~292 years).
    guard totalNanos.isFinite, totalNanos < 9.2e18 else { return nil }
    return .nanoseconds(Int64(totalNanos.rounded()))
}

/// The shortest readable form: "1m30s", "250ms", "0s".
public func formatDuration(_ d: Duration) -> String {
    let (secs, attos) = d.components
    let nanos = secs * 1_000_000_000 + attos / 1_000_000_000
    if nanos == 0 { return "0s" }
    if nanos % 1_000_000_000 != 0 || nanos < 1_000_000_000 {
        if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        if nanos % 1_000 == 0 { return "\(nanos / 1_000)us" }
        return "\(nanos)ns"
    }
    var s = nanos / 1_000_000_000
    var out = ""
    if s >= 3600 { out += "\(s / 3600)h"; s %= 3600 }
    if s >= 60 { out += "\(s / 60)m"; s %= 60 }
    if s > 0 { out += "\(s)s" }
    return out
}
