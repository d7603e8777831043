/// ISO-8601 UTC with milliseconds, e.g. "2024-02-29T23:59:59.123Z", from Unix time.
/// Pure arithmetic (days-to-civil), so it needs no time zone database and is testable.
public func iso8601UTC(secondsSinceEpoch: Int64, milliseconds: Int) -> String {
    let days = floorDiv(secondsSinceEpoch, 86_400)
    let secs = Int(secondsSinceEpoch - days * 86_400)
    let (y, m, d) = civilFromDays(days)
    return pad(Int(y), 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        + pad(secs / 3600, 2) + ":" + pad(secs / 60 % 60, 2) + ":" + pad(secs % 60, 2)
        + "." + pad(milliseconds, 3) + "Z"
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : -((-a + b - 1) / b)
}

/// Howard Hinnant's days_from_civil inverse: proleptic Gregorian (year, month, day).
private func civilFromDays(_ z0: Int64) -> (Int64, Int, Int) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = Int(doy - (153 * mp + 2) / 5 + 1)
    let m = Int(mp < 10 ? mp + 3 : mp - 9)
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}

private func pad(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
