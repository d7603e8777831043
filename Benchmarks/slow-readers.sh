#!/usr/bin/env bash
# Issue 9 §3 measurement: a well-behaved client's put p99 with and without N slow readers
# (connections that pipeline gets and never read their replies), plus the leader's fds and
# RSS under the flood. Starts its own 3-node release cluster on the given ports, stops it
# afterwards. Prints figures; asserts nothing (see docs/operations.md for recorded runs).
#
#   Benchmarks/slow-readers.sh [readers=32] [seconds=10] [value-bytes=4096]
# Environment: RAFTKV_CLIENT_PORT_BASE / RAFTKV_PEER_PORT_BASE (default 27100 / 27200),
#              RAFTKV_CLUSTER_DIR (default ./.cluster-slow-readers)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
READERS="${1:-32}" SECONDS_PER_PHASE="${2:-10}" VALUE="${3:-4096}"
export RAFTKV_CLIENT_PORT_BASE="${RAFTKV_CLIENT_PORT_BASE:-27100}"
export RAFTKV_PEER_PORT_BASE="${RAFTKV_PEER_PORT_BASE:-27200}"
export RAFTKV_CLUSTER_DIR="${RAFTKV_CLUSTER_DIR:-$ROOT/.cluster-slow-readers}"
export RAFTKV_LOG_LEVEL=warn
cd "$ROOT"
swift build -c release --product kvd >/dev/null
swift build -c release --product kvctl >/dev/null
swift build -c release --product slow-readers >/dev/null
trap './cluster.sh stop >/dev/null 2>&1 || true' EXIT
./cluster.sh clean >/dev/null 2>&1 || true
./cluster.sh start 3 >/dev/null
eps=$(./cluster.sh endpoints | tr -d ' ' | paste -sd, -)
status=$(.build/release/kvctl --endpoints "$eps" endpoint status)
leader_line=$(grep ', leader, ' <<<"$status" | head -1)
leader_ep=$(awk -F', ' '{print $1}' <<<"$leader_line")
leader_name=$(awk -F', ' '{print $2}' <<<"$leader_line")
pid=$(cat "$RAFTKV_CLUSTER_DIR/$leader_name.pid")
echo "leader $leader_name at $leader_ep (pid $pid); $READERS slow readers, ${SECONDS_PER_PHASE}s per phase, ${VALUE} B values"
.build/release/slow-readers --endpoint "$leader_ep" --endpoints "$eps" --readers "$READERS" \
    --duration "${SECONDS_PER_PHASE}s" --value-size "$VALUE" --pid "$pid"
echo "leader log warnings (rate-limited):"
grep -c ' warn ' "$RAFTKV_CLUSTER_DIR/$leader_name.log" || true
grep ' warn ' "$RAFTKV_CLUSTER_DIR/$leader_name.log" | tail -3 || true
