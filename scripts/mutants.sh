#!/usr/bin/env bash
# Proves the tests have teeth: applies each deliberate bug to the Raft core (or the KV
# session table), one at a time, runs the rule tests, the scenario tests and a simulation sweep, reports what
# caught it, and restores the source. Usage: scripts/mutants.sh [seeds, default 1-300]
set -u
cd "$(dirname "$0")/.."
seeds=${1:-1-300}
if ! git diff --quiet -- Sources/Raft Sources/KV; then echo "Sources/Raft or Sources/KV has uncommitted changes; commit or stash them first" >&2; exit 2; fi
restore() { git checkout -q -- Sources/Raft Sources/KV; }
trap restore EXIT

mutate() { # name, file, python-literal old, python-literal new
  python3 - "$2" "$3" "$4" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(path).read()
if old not in s:
    sys.exit("mutation anchor not found in " + path)
open(path, "w").write(s.replace(old, new, 1))
PY
}

run_one() {
  local name=$1
  echo "=== mutant: $name"
  local caught=""
  if ! swift build --build-tests >/tmp/mutant-build.log 2>&1; then echo "  build failed (see /tmp/mutant-build.log)"; return; fi
  local out
  out=$(swift test --skip-build --filter 'RaftTests|SimulationTests|KVTests' 2>&1)
  local failing
  failing=$(echo "$out" | grep -E "error: .*: (XCTAssert|failed)" | sed -E 's/.*error: ([A-Za-z]+)\.([A-Za-z0-9_]+) .*/\1.\2/' | sort -u | head -8)
  if echo "$out" | grep -q "Fatal error\|Precondition failed"; then failing="$failing (a precondition trapped)"; fi
  [ -n "$failing" ] && caught="tests: $(echo $failing | tr '\n' ' ')"
  if swift build -c release --product simulate >/tmp/mutant-build.log 2>&1; then
    local sim
    sim=$(.build/release/simulate --seeds "$seeds" --nodes 5 --quiet 2>&1)
    local first
    first=$(echo "$sim" | grep -m1 "FAILED" | cut -c1-220)
    local summary
    summary=$(echo "$sim" | grep "^simulate:")
    [ -n "$first" ] && caught="$caught | sweep: $summary; first: $first"
  fi
  if [ -n "$caught" ]; then echo "  CAUGHT by $caught"; else echo "  NOT CAUGHT"; fi
  restore
}

mutate old-term-commit Sources/Raft/RaftNode+Leader.swift 'guard n > log.committed, log.term(at: n) == term else' 'guard n > log.committed else'
run_one "commit by counting replicas of an old-term entry"

mutate no-up-to-date-check Sources/Raft/RaftNode+Step.swift 'let granted = canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm)' 'let granted = canVote'
run_one "grant votes without the up-to-date log check"

mutate no-vote-persist Sources/Raft/RaftNode.swift 'public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }' 'public var hardState: HardState { HardState(term: term, vote: noNode, commit: log.committed) }'
run_one "do not persist votedFor"

mutate truncate-matching Sources/Raft/RaftLog.swift '        guard firstNew < new.count else { return true }' '        if let f = new.first, f.index > compactedIndex, f.index <= lastIndex, f.index > committed { firstNew = 0 }
        guard firstNew < new.count else { return true }'
run_one "truncate the log on an AppendEntries whose entries already match"

mutate recovering-votes Sources/Raft/RaftNode+Step.swift '        if recovering {' '        if false {'
run_one "a recovering node (lost disk) votes"

mutate lost-follower-ignored Sources/Raft/Progress.swift 'guard rejected > 0 else { return .stale }' 'return .stale'
run_one "a leader ignores a follower that rejects below its match (lost entries)"

mutate recovery-on-old-term-commit Sources/Raft/RaftNode.swift 'log.term(at: recoveryTarget) == term else { return }' 'true else { return }'
run_one "recovery ends on a commit index of an earlier term"

# Issue #15: a request for a session the table no longer holds is executed (and the session
# silently re-created) instead of being answered sessionExpired.
mutate evicted-retry-applied Sources/KV/SessionTable.swift 'guard let s = sessions[req.clientID] else { return .refused(.sessionExpired) }' 'guard let s = sessions[req.clientID] else { return .accepted(cached: nil) }'
mutate evicted-retry-applied Sources/KV/SessionTable.swift 'guard var s = sessions[req.clientID] else { preconditionFailure("recordAccepted for an unregistered session") }' 'var s = sessions[req.clientID] ?? Session(lastIndex: index)'
run_one "an evicted session's retry is applied as new"
