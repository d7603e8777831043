#!/usr/bin/env bash
# Proves the tests have teeth: applies each deliberate bug to the Raft core, one at a time,
# runs a simulation sweep (release build) and, if the sweep misses it, the rule and scenario
# tests; prints a table of what caught each mutant, restores the source, and exits non-zero
# if any mutant survived (1) or a build failed (2). Every mutant must be caught by the sweep
# or by a named test.
#
# Usage: scripts/mutants.sh [--seeds A-B] [--only name,name] [--rotate N] [--list]
#   --seeds   sweep range (default 1-300)
#   --only    run just these mutants
#   --rotate  run N mutants chosen by today's date (CI: a bounded, rotating subset)
#   --list    print the mutant names and exit
# Anchors are text in Sources/Raft (and Sources/KV for the session mutant): a change to an anchored line must update its anchor so
# the mutant still means the same bug (the script fails loudly when an anchor is missing).
set -u
cd "$(dirname "$0")/.."
seeds=1-300
only=""
rotate=0
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --rotate) rotate=$2; shift 2 ;;
    --list) list=1; shift ;;
    [0-9]*-[0-9]*) seeds=$1; shift ;; # the old positional form
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

# name | file | anchor (python literal text) | replacement | the bug, in words
names=() files=() olds=() news=() whats=()
add() { names+=("$1"); files+=("$2"); olds+=("$3"); news+=("$4"); whats+=("$5"); }

add old-term-commit Sources/Raft/RaftNode+Leader.swift \
  'guard n > log.committed, log.term(at: n) == term else' \
  'guard n > log.committed else' \
  "commit by counting replicas of an old-term entry (Figure 8)"
add no-up-to-date-check Sources/Raft/RaftNode+Step.swift \
  'let granted = canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm)' \
  'let granted = canVote' \
  "grant votes without the up-to-date log check (§5.4.1)"
add no-vote-persist Sources/Raft/RaftNode.swift \
  'public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }' \
  'public var hardState: HardState { HardState(term: term, vote: noNode, commit: log.committed) }' \
  "do not persist votedFor"
add truncate-matching Sources/Raft/RaftLog.swift \
  '        guard firstNew < new.count else { return true }' \
  '        if let f = new.first, f.index > compactedIndex, f.index <= lastIndex, f.index > committed { firstNew = 0 }
        guard firstNew < new.count else { return true }' \
  "truncate the log on an AppendEntries whose entries already match"
add eager-vote-grant Sources/Raft/RaftNode.swift \
  '        if kind.mayPrecedePersistence { eagerMessages.append(m) } else { messages.append(m) }' \
  '        if kind.mayPrecedePersistence || kind == .requestVoteResponse(granted: true) { eagerMessages.append(m) } else { messages.append(m) }' \
  "send a vote grant before votedFor is durable"
add eager-append-ack Sources/Raft/RaftNode.swift \
  '        if kind.mayPrecedePersistence { eagerMessages.append(m) } else { messages.append(m) }' \
  '        if kind.mayPrecedePersistence || { if case .appendEntriesResponse(true, _, _, _) = kind { return true }; return false }() { eagerMessages.append(m) } else { messages.append(m) }' \
  "acknowledge appended entries before they are durable"
add ignore-higher-term-response Sources/Raft/RaftNode+Step.swift \
  '        // §5.1: a higher term makes us a follower of that term.
        if m.term > term {' \
  '        if m.term > term, case .appendEntriesResponse = m.kind { return }
        // §5.1: a higher term makes us a follower of that term.
        if m.term > term {' \
  "a leader ignores a higher term in an AppendEntries response"
add count-stale-votes Sources/Raft/RaftNode+Step.swift \
  '        } else if m.term < term {' \
  '        } else if m.term < term, !({ if case .requestVoteResponse = m.kind { return true }; return false }()) {' \
  "a candidate counts vote responses from an earlier term"
add stale-append-success Sources/Raft/RaftNode+Step.swift \
  '        } else if m.term < term {' \
  '        } else if m.term < term, !({ if case .appendEntriesResponse(true, _, _, _) = m.kind { return true }; return false }()) {' \
  "a leader lets a lower-term append success move match"
add follower-commit-rule Sources/Raft/RaftNode+Step.swift \
  'log.commit(to: min(leaderCommit, lastNew))' \
  'log.commit(to: min(leaderCommit, log.lastIndex))' \
  "a follower commits up to leaderCommit past the last new entry (§5.3 step 5)"
add snapshot-suffix-rule Sources/Raft/RaftLog.swift \
  'if matchTerm(meta.index, meta.term) && meta.index >= compactedIndex {' \
  'if meta.index >= compactedIndex && meta.index <= lastIndex {' \
  "installing a snapshot keeps a log suffix that conflicts with it (§7)"
add recovering-votes Sources/Raft/RaftNode+Step.swift \
  '        if recovering {' \
  '        if false {' \
  "a recovering node (lost disk) votes"
add lost-follower-ignored Sources/Raft/Progress.swift \
  'guard rejected > 0 else { return .stale }' \
  'return .stale' \
  "a leader ignores a follower that rejects below its match (lost entries)"
add recovery-on-old-term-commit Sources/Raft/RaftNode.swift \
  'log.term(at: recoveryTarget) == term else { return }' \
  'true else { return }' \
  "recovery ends on a commit index of an earlier term"
add evicted-retry-applied Sources/KV/KVStateMachine.swift \
  '        case let .refused(answer):
            return answer' \
  '        case let .refused(answer):
            if answer == .sessionExpired, !sessions.isRegistered(req.clientID) { return store.execute(req.command, at: index) }
            return answer' \
  "an evicted session's retry is applied as new (issue #15)"

if [ $list = 1 ]; then
  missing=0
  for i in "${!names[@]}"; do
    if python3 -c 'import sys; sys.exit(0 if sys.argv[2] in open(sys.argv[1]).read() else 1)' "${files[$i]}" "${olds[$i]}"; then a=ok; else a="ANCHOR MISSING"; missing=1; fi
    printf '%-28s %-15s %s\n' "${names[$i]}" "$a" "${whats[$i]}"
  done
  exit $missing
fi

chosen=()
if [ -n "$only" ]; then
  IFS=, read -ra want <<<"$only"
  for w in "${want[@]}"; do
    found=0
    for i in "${!names[@]}"; do [ "${names[$i]}" = "$w" ] && chosen+=("$i") && found=1; done
    [ $found = 1 ] || { echo "unknown mutant $w (try --list)" >&2; exit 2; }
  done
elif [ "$rotate" -gt 0 ]; then
  # The day number picks a window of N consecutive mutants, so every mutant runs within a
  # few days of CI runs.
  day=$(( $(date -u +%s) / 86400 ))
  n=${#names[@]}
  for k in $(seq 0 $(( rotate - 1 ))); do chosen+=("$(( (day * rotate + k) % n ))"); done
else
  chosen=("${!names[@]}")
fi

if ! git diff --quiet -- Sources/Raft Sources/KV; then echo "Sources/Raft or Sources/KV has uncommitted changes; commit or stash them first" >&2; exit 2; fi
restore() { git checkout -q -- Sources/Raft Sources/KV; }
trap restore EXIT

mutate() { # file, old, new
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(path).read()
if old not in s:
    sys.exit("mutation anchor not found in " + path + ":\n" + old)
open(path, "w").write(s.replace(old, new, 1))
PY
}

# A build must never fail quietly: a mutant that does not compile would "survive" unseen.
# A module cache copied from another checkout fails with "missing required module
# 'SwiftShims'" (its paths are absolute): drop the caches and retry once.
build() { # log file, swift build arguments...
  local log=$1; shift
  if swift build "$@" >"$log" 2>&1; then return 0; fi
  if grep -q "missing required module 'SwiftShims'" "$log"; then
    echo "  stale module cache (SwiftShims); removing .build/*/ModuleCache and retrying" >&2
    find .build -type d -name ModuleCache -prune -exec rm -rf {} + 2>/dev/null
    swift build "$@" >"$log" 2>&1 && return 0
  fi
  echo "BUILD FAILED: swift build $* (see $log):" >&2
  grep -E "error:" "$log" | head -5 >&2
  exit 2
}

results=()
survived=0
for i in "${chosen[@]}"; do
  name=${names[$i]}
  echo "=== mutant: $name — ${whats[$i]}"
  mutate "${files[$i]}" "${olds[$i]}" "${news[$i]}" || exit 2
  caught=""
  build /tmp/mutant-build.log -c release --product simulate
  sim=$(.build/release/simulate --seeds "$seeds" --quiet --jobs 2 2>&1)
  first=$(echo "$sim" | grep -m1 "FAILED" | cut -c1-160)
  summary=$(echo "$sim" | grep "^simulate:" | sed 's/^simulate: //')
  [ -n "$summary" ] || { echo "the sweep printed no summary:" >&2; echo "$sim" | tail -5 >&2; exit 2; }
  if [ -n "$first" ]; then
    caught="sweep $seeds ($summary); first: ${first#seed }"
  else
    build /tmp/mutant-build.log --build-tests
    out=$(swift test --skip-build --filter 'RaftTests|SimulationTests' 2>&1)
    failing=$(echo "$out" | grep -E "error: .*: (XCTAssert|XCTFail|failed)" | sed -E 's/.*error: ([A-Za-z]+)\.([A-Za-z0-9_]+) .*/\1.\2/' | sort -u | head -4 | tr '\n' ' ')
    if echo "$out" | grep -q "Fatal error\|Precondition failed"; then failing="$failing(a precondition trapped)"; fi
    [ -n "$failing" ] && caught="tests: $failing"
  fi
  if [ -n "$caught" ]; then echo "  CAUGHT by $caught"; status=caught; else echo "  NOT CAUGHT"; status=SURVIVED; survived=$((survived + 1)); fi
  results+=("$(printf '| %-28s | %-8s | %s |' "$name" "$status" "${caught:-nothing}")")
  restore
done

echo
echo "| mutant                       | result   | caught by |"
echo "|------------------------------|----------|-----------|"
for r in "${results[@]}"; do echo "$r"; done
echo "mutants: ${#chosen[@]} run, $(( ${#chosen[@]} - survived )) caught, $survived survived"
[ $survived = 0 ]
