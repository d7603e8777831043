#!/usr/bin/env bash
# Runs a local RaftKV cluster on 127.0.0.1 for trying things out and fault drills.
# Everything lives under ./.cluster/: one data dir, log and pid file per node.
#
#   ./cluster.sh start [3|5]   build if needed, start n1..nN, wait for a leader
#   ./cluster.sh status        processes + endpoint table
#   ./cluster.sh stop          SIGTERM every node and wait (idempotent)
#   ./cluster.sh kill|pause|resume|restart NAME, logs NAME [-f], endpoints, clean
#
# Environment:
#   RAFTKV_CLIENT_PORT_BASE (default 7100: n1 serves clients on 7101, n2 on 7102, ...)
#   RAFTKV_PEER_PORT_BASE   (default 7200: n1 peers on 7201, ...)
#   RAFTKV_CLUSTER_DIR      (default ./.cluster)
#   RAFTKV_BIN_DIR          use kvd/kvctl from this directory and never build
#   RAFTKV_TICK_MS, RAFTKV_ELECTION_TICKS, RAFTKV_LOG_LEVEL   passed to kvd
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_DIR="${RAFTKV_CLUSTER_DIR:-$ROOT/.cluster}"
CLIENT_BASE="${RAFTKV_CLIENT_PORT_BASE:-7100}"
PEER_BASE="${RAFTKV_PEER_PORT_BASE:-7200}"
HOST=127.0.0.1
TOKEN="raftkv-local"
TICK_MS="${RAFTKV_TICK_MS:-100}"
ELECTION_TICKS="${RAFTKV_ELECTION_TICKS:-10}"
LOG_LEVEL="${RAFTKV_LOG_LEVEL:-info}"
BIN_DIR="${RAFTKV_BIN_DIR:-$ROOT/.build/release}"
KVD="$BIN_DIR/kvd"
KVCTL="$BIN_DIR/kvctl"
LEADER_WAIT_SECONDS=30
STOP_WAIT_SECONDS=10

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---- cluster layout --------------------------------------------------------

cluster_size() {
  if [[ -f "$CLUSTER_DIR/size" ]]; then cat "$CLUSTER_DIR/size"; else echo 0; fi
}

node_names() {
  local n; n=$(cluster_size)
  for ((i = 1; i <= n; i++)); do echo "n$i"; done
}

node_index() { echo "${1#n}"; }
client_addr() { echo "$HOST:$((CLIENT_BASE + $(node_index "$1")))"; }
peer_addr() { echo "$HOST:$((PEER_BASE + $(node_index "$1")))"; }
pid_file() { echo "$CLUSTER_DIR/$1.pid"; }
log_file() { echo "$CLUSTER_DIR/$1.log"; }

endpoints() {
  local eps=() name
  for name in $(node_names); do eps+=("$(client_addr "$name")"); done
  local IFS=,
  echo "${eps[*]}"
}

initial_cluster() {
  local parts=() name
  for name in $(node_names); do parts+=("$name=$(peer_addr "$name")"); done
  local IFS=,
  echo "${parts[*]}"
}

# Prints the pid if NAME's process is alive; removes a stale pid file otherwise.
node_pid() {
  local f; f=$(pid_file "$1")
  [[ -f "$f" ]] || return 1
  local pid; pid=$(cat "$f")
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == kvd* ]]; then
    echo "$pid"
    return 0
  fi
  rm -f "$f"
  return 1
}

# running | paused (SIGSTOP) | stopped
node_state() {
  local pid
  if ! pid=$(node_pid "$1"); then echo stopped; return; fi
  local st; st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo "?")
  if [[ "$st" == T || "$st" == t ]]; then echo paused; else echo running; fi
}

require_node() {
  local name="${1:-}"
  [[ -n "$name" ]] || die "missing node name (one of: $(node_names | tr '\n' ' '))"
  [[ -f "$CLUSTER_DIR/size" ]] || die "no cluster here; start one with ./cluster.sh start"
  local n
  for n in $(node_names); do [[ "$n" == "$name" ]] && return 0; done
  die "unknown node '$name' (nodes: $(node_names | tr '\n' ' '))"
}

any_running() {
  local name
  for name in $(node_names); do node_pid "$name" >/dev/null && return 0; done
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ---- binaries --------------------------------------------------------------

# Rebuilds when a binary is missing or any source is newer than it.
ensure_binaries() {
  if [[ -n "${RAFTKV_BIN_DIR:-}" ]]; then
    [[ -x "$KVD" && -x "$KVCTL" ]] || die "RAFTKV_BIN_DIR=$BIN_DIR lacks kvd or kvctl"
    return
  fi
  local stale=""
  for bin in "$KVD" "$KVCTL"; do
    if [[ ! -x "$bin" ]]; then
      stale="$bin is missing"
    elif [[ -n "$(find "$ROOT/Sources" "$ROOT/Package.swift" -newer "$bin" -print -quit 2>/dev/null)" ]]; then
      stale="sources changed since $bin was built"
    fi
  done
  if [[ -z "$stale" ]]; then
    say "using release binaries in $BIN_DIR"
    return
  fi
  say "building release binaries ($stale); the first build takes a few minutes"
  (cd "$ROOT" && swift build -c release --product kvd && swift build -c release --product kvctl) \
    || die "build failed; see the compiler output above"
  touch "$KVD" "$KVCTL"
}

# ---- node lifecycle --------------------------------------------------------

start_node() {
  local name="$1"
  local dir="$CLUSTER_DIR/$name"
  mkdir -p "$dir"
  {
    echo
    echo "---- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting $name ----"
  } >>"$(log_file "$name")"
  nohup "$KVD" \
    --name "$name" \
    --data-dir "$dir" \
    --listen-client "$(client_addr "$name")" \
    --listen-peer "$(peer_addr "$name")" \
    --initial-cluster "$(initial_cluster)" \
    --initial-cluster-token "$TOKEN" \
    --tick-ms "$TICK_MS" \
    --election-ticks "$ELECTION_TICKS" \
    --log-level "$LOG_LEVEL" \
    >>"$(log_file "$name")" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
  say "started $name (pid $!): clients $(client_addr "$name"), peers $(peer_addr "$name"), log $(log_file "$name")"
}

# SIGTERM, then wait; SIGKILL if it does not exit in time.
stop_node() {
  local name="$1" pid
  pid=$(node_pid "$name") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true # a paused process cannot act on SIGTERM
  for ((i = 0; i < STOP_WAIT_SECONDS * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name (pid $pid) ignored SIGTERM for ${STOP_WAIT_SECONDS}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  say "stopped $name (pid $pid)"
}

check_alive() {
  local name="$1"
  if ! node_pid "$name" >/dev/null; then
    echo "---- last lines of $(log_file "$name") ----" >&2
    tail -n 20 "$(log_file "$name")" >&2 || true
    die "$name exited during startup (see above)"
  fi
}

wait_for_leader() {
  local eps; eps=$(endpoints)
  say "waiting for a leader (up to ${LEADER_WAIT_SECONDS}s)..."
  local deadline=$((SECONDS + LEADER_WAIT_SECONDS)) out name
  while ((SECONDS < deadline)); do
    for name in $(node_names); do check_alive "$name"; done
    out=$("$KVCTL" --endpoints "$eps" --command-timeout 1s --dial-timeout 300ms endpoint status 2>/dev/null || true)
    if grep -q ', leader, ' <<<"$out"; then
      say "leader elected: $(grep ', leader, ' <<<"$out" | awk -F', ' '{print $2 " (" $1 ")"}')"
      return 0
    fi
    sleep 0.3
  done
  warn "no leader after ${LEADER_WAIT_SECONDS}s; node logs are in $CLUSTER_DIR/*.log"
  return 1
}

# ---- commands ----------------------------------------------------------------

cmd_start() {
  local n="${1:-3}"
  [[ "$n" =~ ^[1-9]$ ]] || die "cluster size must be 1..9 (usually 3 or 5), got '$n'"
  ((n % 2 == 1)) || warn "an even-sized cluster ($n) tolerates no more failures than $((n - 1)) nodes"
  if [[ -f "$CLUSTER_DIR/size" ]] && any_running; then
    die "a cluster is already running ($(cluster_size) nodes in $CLUSTER_DIR); see ./cluster.sh status, or ./cluster.sh stop first"
  fi
  local old; old=$(cluster_size)
  if ((old != 0 && old != n)) && compgen -G "$CLUSTER_DIR/n*/" >/dev/null; then
    die "$CLUSTER_DIR holds data of a $old-node cluster; run './cluster.sh start $old' or './cluster.sh clean' first"
  fi
  mkdir -p "$CLUSTER_DIR"
  echo "$n" >"$CLUSTER_DIR/size"
  local name port
  for name in $(node_names); do
    rm -f "$(pid_file "$name")" # stale from a crash: checked above that nothing runs
    for port in $((CLIENT_BASE + $(node_index "$name"))) $((PEER_BASE + $(node_index "$name"))); do
      port_in_use "$port" && die "port $port is already in use; set RAFTKV_CLIENT_PORT_BASE / RAFTKV_PEER_PORT_BASE to use others"
    done
  done
  ensure_binaries
  if ((old == n)); then say "restarting the existing $n-node cluster from $CLUSTER_DIR"; else say "starting a new $n-node cluster in $CLUSTER_DIR"; fi
  for name in $(node_names); do start_node "$name"; done
  echo "$(endpoints)" >"$CLUSTER_DIR/endpoints"
  wait_for_leader || die "cluster started but no leader was elected; inspect the logs, then ./cluster.sh stop"
  local kvctl_cmd="./kvctl"
  [[ -n "${RAFTKV_BIN_DIR:-}" ]] && kvctl_cmd="$KVCTL --endpoints $(endpoints)"
  local kvctl_note="(./kvctl runs $KVCTL with KVCTL_ENDPOINTS=$(endpoints))"
  cat <<EOF

Cluster is up. Client endpoints: $(endpoints)

Try:
  $kvctl_cmd put greeting hello
  $kvctl_cmd get greeting
  $kvctl_cmd endpoint status -w table
  $kvctl_cmd member list -w table
$kvctl_note

Fault drills:
  ./cluster.sh kill n1      # SIGKILL a node      ./cluster.sh restart n1
  ./cluster.sh pause n2     # SIGSTOP a node      ./cluster.sh resume n2
  ./cluster.sh logs n3 -f   # follow a node's log
  ./cluster.sh stop         # stop everything (data is kept; ./cluster.sh clean removes it)
EOF
}

cmd_stop() {
  if ! [[ -f "$CLUSTER_DIR/size" ]] || ! any_running; then
    say "no cluster running"
    return 0
  fi
  local name
  for name in $(node_names); do stop_node "$name"; done
  say "cluster stopped; data kept in $CLUSTER_DIR (./cluster.sh start $(cluster_size) resumes it)"
}

cmd_status() {
  [[ -f "$CLUSTER_DIR/size" ]] || { say "no cluster here; start one with ./cluster.sh start"; return 0; }
  local name pid
  printf '%-5s %-8s %-8s %-16s %s\n' NODE STATE PID CLIENT PEER
  for name in $(node_names); do
    pid=$(node_pid "$name" || echo -)
    printf '%-5s %-8s %-8s %-16s %s\n' "$name" "$(node_state "$name")" "$pid" "$(client_addr "$name")" "$(peer_addr "$name")"
  done
  echo
  if any_running; then
    [[ -x "$KVCTL" ]] || die "$KVCTL not built"
    # Non-zero when some endpoint does not answer; the table still shows the rest.
    "$KVCTL" --endpoints "$(endpoints)" --command-timeout 1s --dial-timeout 300ms endpoint status -w table || true
  else
    say "no node is running (./cluster.sh start $(cluster_size) starts them)"
  fi
}

cmd_signal() {
  local sig="$1" verb="$2" name="$3" pid
  require_node "$name"
  pid=$(node_pid "$name") || die "$name is not running"
  kill "-$sig" "$pid"
  if [[ "$sig" == KILL ]]; then
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$(pid_file "$name")"
  fi
  say "$verb $name (pid $pid, SIG$sig)"
}

cmd_restart() {
  local name="${1:-}"
  require_node "$name"
  ensure_binaries
  stop_node "$name"
  start_node "$name"
  sleep 0.3
  check_alive "$name"
}

cmd_logs() {
  local name="${1:-}"
  require_node "$name"
  local f; f=$(log_file "$name")
  [[ -f "$f" ]] || die "no log yet at $f"
  if [[ "${2:-}" == "-f" ]]; then exec tail -n 50 -f "$f"; fi
  cat "$f"
}

cmd_clean() {
  if [[ -f "$CLUSTER_DIR/size" ]] && any_running; then
    die "the cluster is running; ./cluster.sh stop first"
  fi
  rm -rf "$CLUSTER_DIR"
  say "removed $CLUSTER_DIR"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  endpoints) [[ -f "$CLUSTER_DIR/size" ]] || die "no cluster here; start one with ./cluster.sh start"; endpoints ;;
  kill) cmd_signal KILL killed "${2:-}" ;;
  pause) cmd_signal STOP paused "${2:-}" ;;
  resume) cmd_signal CONT resumed "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  logs) cmd_logs "${2:-}" "${3:-}" ;;
  clean) cmd_clean ;;
  -h | --help | help | "") usage ;;
  *) usage; die "unknown command '$1'" ;;
esac
