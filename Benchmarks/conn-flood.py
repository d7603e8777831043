#!/usr/bin/env python3
"""Issue 9 §1/§2 figures: a kvd's descriptors and RSS while flooded with idle, half-open and
peer-port connections, and whether a real client still works. Usage:
  Benchmarks/conn-flood.py KVD_PID CLIENT_PORT PEER_PORT [N_PER_KIND] [KVCTL ENDPOINTS]
Prints figures; asserts nothing."""
import os, socket, subprocess, sys, time

pid, cport, pport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
kvctl = sys.argv[5:7] if len(sys.argv) > 6 else None

def sample():
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")) / 1024
    return fds, rss

def flood(port, count, payload, first_source):
    held, refused = [], 0
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.{first_source + i // 250}.{2 + i % 250}", 0))
        try:
            s.connect(("127.0.0.1", port))
            if payload: s.send(payload)
            held.append(s)
        except OSError:
            refused += 1; s.close()
    return held, refused

def client_ok():
    if not kvctl: return "n/a"
    t = time.time()
    r = subprocess.run([kvctl[0], "--endpoints", kvctl[1], "--command-timeout", "5s", "put", "flood-probe", "ok"],
                       capture_output=True, text=True)
    return f"{'ok' if r.returncode == 0 else 'FAILED: ' + r.stderr.strip()} in {time.time() - t:.2f}s"

print("before: fds=%d rss=%.1fMiB" % sample())
idle, r1 = flood(cport, n, b"", 1)
time.sleep(1); print("after %d idle client conns (%d refused at connect): fds=%d rss=%.1fMiB; put %s" % ((len(idle), r1) + sample() + (client_ok(),)))
half, r2 = flood(cport, n, b"RK\x01\x40\x00\x00\x01\x00\x00", 20)  # a frame header cut short
time.sleep(1); print("after %d half-open client conns: fds=%d rss=%.1fMiB; put %s" % ((len(half),) + sample() + (client_ok(),)))
peers, r3 = flood(pport, n, b"\xff" * 8, 40)
time.sleep(1); print("after %d peer-port conns: fds=%d rss=%.1fMiB; put %s" % ((len(peers),) + sample() + (client_ok(),)))
for s in idle + half + peers: s.close()
time.sleep(1); print("after closing all: fds=%d rss=%.1fMiB" % sample())
