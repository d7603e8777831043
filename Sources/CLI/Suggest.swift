/// Picks the declared name closest to a mistyped one, for "did you mean" hints.
/// Returns nil when nothing is close enough to be a plausible typo.
func closestName(to input: String, among candidates: [String]) -> String? {
    let a = Array(input.lowercased().unicodeScalars)
    var best: (name: String, distance: Int)?
    for c in candidates {
        let d = editDistance(a, Array(c.lowercased().unicodeScalars))
        if best == nil || d < best!.distance { best = (c, d) }
    }
    guard let best else { return nil }
    // Allow about one edit per three characters, at least one, at most three.
    let allowed = min(3, max(1, a.count / 3))
    if best.distance <= allowed { return best.name }
    // A prefix ("--elec" for "--election-timeout") is also a good hint.
    return candidates.first { $0.hasPrefix(input) && input.count >= 3 }
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev2 = [Int](repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                cur[j] = min(cur[j], prev2[j - 2] + 1)
            }
        }
        (prev2, prev, cur) = (prev, cur, prev2)
    }
    return prev[b.count]
}
