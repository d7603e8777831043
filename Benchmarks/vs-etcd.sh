#!/usr/bin/env bash
# Side by side, on this machine, in one run: put throughput and latency of a 3-node etcd
# cluster (Debian's etcd-server 3.4) and a 3-node RaftKV cluster, under the same load shape:
# `etcdctl check perf --load=L` (etcd's own Go client: N clients, a rate cap, 256 B keys,
# 1 KiB values, 60 s) against etcd, and `kv-bench` with the same N, cap, sizes and duration
# against RaftKV. Both keep their data under ./.bench on the same disk; both snapshot every
# 100,000 entries (etcd's default --snapshot-count). Prints figures and ratios.
#
#   Benchmarks/vs-etcd.sh            # LOAD=xl: 1000 clients, cap 15000 puts/s
#   LOAD=l Benchmarks/vs-etcd.sh     # 500 clients, cap 8000 puts/s
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD=${LOAD:-xl}
case "$LOAD" in
  s) RATE=150; CLIENTS=50 ;;
  m) RATE=1000; CLIENTS=200 ;;
  l) RATE=8000; CLIENTS=500 ;;
  xl) RATE=15000; CLIENTS=1000 ;;
  *) echo "Error: LOAD must be s, m, l or xl" >&2; exit 2 ;;
esac
WORK="$PWD/.bench"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  echo "==> installing etcd-server and etcd-client (Debian)"
  apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
echo "==> building release kvd, kvctl, kv-bench"
for p in kvd kvctl kv-bench; do swift build -c release --product "$p" 2>&1 | tail -1; done
BIN="$PWD/.build/release"
rm -rf "$WORK"; mkdir -p "$WORK"

# --- etcd ---------------------------------------------------------------------------------
ECLUSTER="e1=http://127.0.0.1:12380,e2=http://127.0.0.1:22380,e3=http://127.0.0.1:32380"
EEP="127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379"
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$WORK/e$i" --snapshot-count 100000 \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$ECLUSTER" --initial-cluster-token bench --initial-cluster-state new \
    >"$WORK/e$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 60); do ETCDCTL_API=3 etcdctl --endpoints="$EEP" endpoint health >/dev/null 2>&1 && break; sleep 0.5; done
ETCDCTL_API=3 etcdctl --endpoints="$EEP" endpoint health
echo "==> etcd $(etcd --version | head -1 | awk '{print $3}'): etcdctl check perf --load=$LOAD ($CLIENTS clients, cap $RATE puts/s, 60 s)"
ETCDCTL_API=3 etcdctl --endpoints="$EEP" check perf --load="$LOAD" 2>&1 | tr '\r' '\n' | grep -vE "^ *[0-9]+ / [0-9]+" | tee "$WORK/etcd.txt" || true
cleanup; pids=()

# --- RaftKV -------------------------------------------------------------------------------
RCLUSTER="n1=127.0.0.1:7401,n2=127.0.0.1:7402,n3=127.0.0.1:7403"
REP="127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303"
for i in 1 2 3; do
  "$BIN/kvd" --name "n$i" --data-dir "$WORK/n$i" --listen-client "127.0.0.1:730$i" --listen-peer "127.0.0.1:740$i" \
    --initial-cluster "$RCLUSTER" --snapshot-count 100000 >"$WORK/n$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 60); do "$BIN/kvctl" --endpoints "$REP" endpoint status -w json 2>/dev/null | grep -q '"leader"' && break; sleep 0.5; done
"$BIN/kvctl" --endpoints "$REP" endpoint status -w table
echo "==> RaftKV: kv-bench ($CLIENTS clients, cap $RATE puts/s, 60 s)"
"$BIN/kv-bench" --endpoints "$REP" --clients "$CLIENTS" --rate "$RATE" --duration 60s --key-size 256 --value-size 1024 | tee "$WORK/raftkv.txt"
cleanup; pids=()

# --- summary ------------------------------------------------------------------------------
et=$(grep -oE "Throughput (is|too low:) [0-9]+" "$WORK/etcd.txt" | grep -oE "[0-9]+$" || echo 0)
es=$(grep -oE "[Ss]lowest request took( too long:)? [0-9.]+" "$WORK/etcd.txt" | grep -oE "[0-9.]+$" || echo "?")
ed=$(grep -oE "Stddev (is|too high:) [0-9.]+" "$WORK/etcd.txt" | grep -oE "[0-9.]+$" || echo "?")
rt=$(grep -oE "throughput: [0-9]+" "$WORK/raftkv.txt" | grep -oE "[0-9]+$" || echo 0)
rs=$(grep -oE "slowest [0-9.]+" "$WORK/raftkv.txt" | grep -oE "[0-9.]+$" || echo "?")
rd=$(grep -oE "stddev [0-9.]+" "$WORK/raftkv.txt" | grep -oE "[0-9.]+$" || echo "?")
echo
echo "| load $LOAD ($CLIENTS clients, cap $RATE/s, 60 s) | puts/s | slowest | stddev |"
echo "|---|---:|---:|---:|"
echo "| etcd 3.4 (etcdctl check perf) | $et | ${es} s | ${ed} s |"
echo "| RaftKV (kv-bench) | $rt | ${rs} ms | ${rd} ms |"
if [ "${et:-0}" -gt 0 ]; then
  echo "RaftKV / etcd throughput: $(python3 -c "print(f'{$rt/$et:.2f}x')")"
fi
