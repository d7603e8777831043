"""Conformance tests: docs/protocol.md against a real cluster (./cluster.sh start 3).

Run: RAFTKV_CLIENT_PORT_BASE=... RAFTKV_CLUSTER_DIR=... python3 -m unittest -v tests/conformance/test_conformance.py
Each test states the sentence of the document it checks; a failure means the document and
the server disagree.
"""
import os
import subprocess
import time
import unittest

from raftkv_wire import (CALL_KV, CALL_MEMBERS, CALL_REGISTER, CALL_STATUS, CLIENT_CALL, DELETE, GET, PUT,
                         Client, Connection, call_frame, frame, hello_body, kv_body, lp, varint)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE = int(os.environ.get("RAFTKV_CLIENT_PORT_BASE", "7100"))
SIZE = int(os.environ.get("RAFTKV_CLUSTER_SIZE", "3"))
ENDPOINTS = ["127.0.0.1:%d" % (BASE + i) for i in range(1, SIZE + 1)]
STATUS = bytes([CALL_STATUS])


def status(address):
    c = Connection(address, timeout=3)
    try:
        return c.call(STATUS)["status"]
    finally:
        c.close()


def wait_for_leader(timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        for ep in ENDPOINTS:
            try:
                s = status(ep)
            except OSError:
                continue
            if s["role"] == "leader":
                return ep, s
        time.sleep(0.1)
    raise AssertionError("no leader within %ds" % timeout)


class ConformanceTest(unittest.TestCase):
    def setUp(self):
        self.leader, self.leader_status = wait_for_leader()
        self.conn = Connection(self.leader)
        self.client = Client(ENDPOINTS)

    def tearDown(self):
        self.conn.close()
        self.client.close()

    def registered(self):
        r = self.conn.call(bytes([CALL_REGISTER]))
        self.assertEqual(r["kv"], "registered", r)
        self.assertGreater(r["client_id"], 0)
        return r["client_id"]

    # ---- hello, status, member list ------------------------------------------

    def test_hello_negotiates_version_features_and_reports_the_documented_limits(self):
        for ep in ENDPOINTS:  # "answered by any member"
            c = Connection(ep)
            h = c.call(hello_body(1, 9, features=0xFFFF))["hello"]
            c.close()
            self.assertEqual(h["version"], 1)
            self.assertEqual(h["features"], 1, "requested ∩ supported = {deadlines}")
            self.assertEqual((h["max_key"], h["max_value"], h["max_call"], h["max_frame"]),
                             (65536, 1048576, 1572864, 4194304))
            self.assertEqual((h["max_inflight"], h["request_timeout_ms"]), (1024, 5000))
        r = self.conn.call(hello_body(2, 3))
        self.assertEqual(r["error"], "badRequest")
        self.assertIn("no common protocol version", r["reason"])
        self.assertIn("status", self.conn.call(STATUS), "the connection stays after a refused hello")

    def test_status_bodies_agree_on_one_leader(self):
        views = [status(ep) for ep in ENDPOINTS]
        leaders = [v for v in views if v["role"] == "leader"]
        self.assertEqual(len(leaders), 1, views)
        for v in views:
            self.assertLessEqual(v["applied"], v["commit"])
            self.assertEqual(v["log_size"], v["last"] + 1 - v["first"])
            self.assertEqual(v["session_limit"], 10000)
            self.assertEqual(v["undecodable"], 0)
            if v["leader_id"]:
                self.assertEqual(v["leader_name"], leaders[0]["name"])

    def test_member_list_names_every_member_with_addresses(self):
        members = self.conn.call(bytes([CALL_MEMBERS]))["members"]
        self.assertEqual([m["name"] for m in members], ["n%d" % i for i in range(1, SIZE + 1)])
        self.assertEqual([m["id"] for m in members], list(range(1, SIZE + 1)))
        self.assertEqual({m["client_url"] for m in members if m["client_url"]} - set(ENDPOINTS), set())
        for m in members:
            host, port = m["peer_url"].rsplit(":", 1)
            self.assertTrue(host and int(port) > 0, m)

    # ---- put / get / delete ---------------------------------------------------

    def test_put_get_delete_and_revisions(self):
        key = b"conf-%d" % time.time_ns()
        a = self.client.put(key, b"one")
        b = self.client.put(key, b"two")
        self.assertEqual(a["kv"], "stored")
        self.assertGreater(b["revision"], a["revision"], "revisions are log indexes: increasing")
        self.assertEqual(self.client.get(key), {"kv": "value", "value": b"two", "fields": {}})
        self.assertEqual(self.client.delete(key)["count"], 1)
        self.assertIsNone(self.client.get(key)["value"])
        self.assertEqual(self.client.delete(key)["count"], 0)
        self.assertEqual(self.client.put(key, b"")["kv"], "stored", "empty values are allowed")
        self.assertEqual(self.client.get(key)["value"], b"")

    def test_largest_key_and_value_fit_and_limits_are_named(self):
        cid = self.registered()
        big_key, big_value = b"k" * 65536, b"v" * 1048576
        r = self.conn.call(kv_body(cid, 1, 1, PUT, big_key, big_value))
        self.assertEqual(r["kv"], "stored", "a 64 KiB key plus a 1 MiB value is within the limits")
        self.assertEqual(self.conn.call(kv_body(cid, 2, 2, GET, big_key))["value"], big_value)
        for cmd in (PUT, GET, DELETE):
            r = self.conn.call(kv_body(cid, 3, 3, cmd, b"k" * 65537, b"v"))
            self.assertEqual((r["error"], r["limit"], r["bytes"]), ("tooLarge", "key", 65536), r)
        r = self.conn.call(kv_body(cid, 3, 3, PUT, b"k", b"v" * 1048577))
        self.assertEqual((r["error"], r["limit"], r["bytes"]), ("tooLarge", "value", 1048576))
        r = self.conn.call(kv_body(cid, 3, 3, PUT, b"k" * 65536, b"v" * 1510000))
        self.assertEqual((r["error"], r["limit"], r["bytes"]), ("tooLarge", "call", 1572864))
        for cmd in (PUT, GET, DELETE):
            r = self.conn.call(kv_body(cid, 3, 3, cmd, b"", b"v"))
            self.assertEqual(r["error"], "badRequest")
            self.assertIn("key must not be empty", r["reason"])

    # ---- redirects --------------------------------------------------------------

    def test_followers_redirect_to_the_leader_with_its_address(self):
        members = {m["id"]: m for m in self.conn.call(bytes([CALL_MEMBERS]))["members"]}
        for ep in ENDPOINTS:
            if ep == self.leader:
                continue
            c = Connection(ep)
            r = c.call(bytes([CALL_REGISTER]))
            c.close()
            if r.get("error") == "unavailable":
                continue  # allowed while the follower's link to the leader is (re)connecting
            self.assertEqual(r["error"], "notLeader", r)
            self.assertEqual(r["leader_id"], self.leader_status["id"])
            self.assertEqual(r["address"], self.leader, "notLeader always carries the leader's client address")
            self.assertEqual(members[r["leader_id"]]["client_url"], r["address"])

    # ---- sessions -----------------------------------------------------------------

    def test_session_rules(self):
        x, y = self.registered(), self.registered()
        self.assertNotEqual(x, y)
        key = b"dup-%d" % time.time_ns()
        first = self.conn.call(kv_body(x, 1, 1, PUT, key, b"1"))
        self.conn.call(kv_body(y, 1, 1, PUT, key, b"2"))
        retry = self.conn.call(kv_body(x, 1, 1, PUT, key, b"1"))
        self.assertEqual(retry, first, "a retry gets the first result, not a new revision")
        self.assertEqual(self.conn.call(kv_body(y, 2, 2, GET, key))["value"], b"2", "the retry was not applied again")
        r = self.conn.call(kv_body(x, 1, 1, PUT, key, b"other"))
        self.assertEqual(r["error"], "badRequest")
        self.assertIn("sequence 1 reused for a different command", r["reason"])
        r = self.conn.call(kv_body(x, 5, 9, GET, key))
        self.assertEqual(r["error"], "badRequest", "a floor above the call's own sequence is refused")
        self.assertEqual(self.conn.call(kv_body(x, 4, 4, GET, key))["kv"], "value", "gaps are allowed")
        self.assertEqual(self.conn.call(kv_body(x, 3, 3, GET, key))["kv"], "sessionExpired", "below the floor")
        never = max(x, y) + 10_000_000
        self.assertEqual(self.conn.call(kv_body(never, 1, 1, PUT, key, b"z"))["kv"], "sessionExpired")
        self.assertEqual(self.conn.call(kv_body(y, 3, 3, GET, key))["value"], b"2", "an unknown session applies nothing")

    # ---- stream errors, request ids, fields, deadlines ---------------------------------

    def test_request_id_zero_is_reserved_and_duplicates_in_flight_are_refused(self):
        self.conn.send_raw(call_frame(0, STATUS))
        r = self.conn.reply(0)
        self.assertEqual(r["error"], "badRequest")
        self.assertIn("reserved", r["reason"])
        cid = self.registered()
        put = kv_body(cid, 1, 1, PUT, b"rid-%d" % time.time_ns(), b"v")
        self.conn.send_raw(call_frame(500, put) + call_frame(500, kv_body(cid, 2, 2, GET, b"x")))
        first, second = self.conn.reply(500), self.conn.reply(500)
        self.assertEqual(first["error"], "badRequest", "the refusal comes first")
        self.assertIn("request id 500 is already in flight", first["reason"])
        self.assertEqual(second["kv"], "stored", "the original call still gets its own reply")

    def test_refused_frames_keep_the_connection(self):
        self.conn.send_raw(frame(CLIENT_CALL, 7, bytes([0x63])))
        r = self.conn.reply(7)
        self.assertEqual(r["error"], "badRequest")
        self.assertIn("unknown client call tag 99", r["reason"])
        self.conn.send_raw(frame(0x7E, 8, b"abc"))
        self.assertEqual(self.conn.reply(8)["error"], "badRequest", "unknown frame type: skipped and answered")
        self.conn.send_raw(frame(0x03, 9, b""))
        self.assertEqual(self.conn.reply(9)["error"], "badRequest", "a peer frame on the client port")
        body = b"\x01" + b"\x00" * (5 << 20)
        self.conn.send_raw(frame(CLIENT_CALL, 10, body))
        r = self.conn.reply(10)
        self.assertEqual((r["error"], r["limit"], r["bytes"]), ("tooLarge", "frame", 4194304))
        self.assertIn("status", self.conn.call(STATUS), "the oversized body was drained; the stream goes on")
        r = self.conn.call(STATUS, extra_fields={77: b"from the future", 200: b""})
        self.assertIn("status", r, "unknown fields are skipped")

    def test_garbage_gets_an_error_on_id_zero_and_a_close(self):
        c = Connection(self.leader)
        c.send_raw(b"GET / HTTP/1.1\r\n\r\n")
        r = c.reply(0)
        self.assertEqual(r["error"], "badRequest")
        self.assertTrue(c.closed_by_server())
        c.close()
        c = Connection(self.leader)
        c.send_raw(frame(CLIENT_CALL, 3, STATUS, version=2))
        self.assertEqual(c.reply(0)["error"], "badRequest")
        self.assertTrue(c.closed_by_server(), "unsupported header version closes")
        c.close()

    def test_deadlines(self):
        cid = self.registered()
        key = b"deadline-%d" % time.time_ns()
        r = self.conn.call(kv_body(cid, 1, 1, PUT, key, b"late"), deadline_ms=0)
        self.assertEqual(r["error"], "timeout", "a deadline of 0 is answered timeout at once")
        self.assertIsNone(self.conn.call(kv_body(cid, 2, 2, GET, key))["value"], "and nothing was proposed")
        r = self.conn.call(kv_body(cid, 3, 3, PUT, key, b"ok"), deadline_ms=3000)
        self.assertEqual(r["kv"], "stored", "a generous deadline changes nothing")


class DocumentExamplesTest(unittest.TestCase):
    """The byte examples in docs/protocol.md, as this client encodes them."""

    def test_examples(self):
        self.assertEqual(call_frame(1, STATUS).hex(" "), "52 4b 01 40 00 00 01 00 00 00 00 00 00 00 01 00 00 00 02")
        self.assertEqual(call_frame(2, kv_body(7, 1, 1, PUT, b"k", b"v"), deadline_ms=1500).hex(" "),
                         "52 4b 01 40 00 00 02 00 00 00 00 00 00 00 0e 00 00 00 "
                         "01 07 01 01 01 01 6b 01 76 01 01 02 dc 0b")
        self.assertEqual(varint(300), bytes([0xAC, 0x02]))


class DeadlineTest(unittest.TestCase):
    """"The server answers `timeout` before the client gives up": a leader whose followers are
    frozen cannot commit, yet it answers within the client's deadline."""

    def test_timeout_arrives_before_the_client_deadline(self):
        leader, st = wait_for_leader()
        conn = Connection(leader)
        cid = conn.call(bytes([CALL_REGISTER]))["client_id"]
        followers = ["n%d" % i for i in range(1, SIZE + 1) if "n%d" % i != st["name"]]
        cluster = os.path.join(ROOT, "cluster.sh")
        for f in followers:
            subprocess.run([cluster, "pause", f], check=True, stdout=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            r = conn.call(kv_body(cid, 1, 1, PUT, b"frozen", b"v"), deadline_ms=1000)
            elapsed = time.monotonic() - started
        finally:
            for f in followers:
                subprocess.run([cluster, "resume", f], check=True, stdout=subprocess.DEVNULL)
            conn.close()
        self.assertEqual(r.get("error"), "timeout", r)
        self.assertLess(elapsed, 1.0, "answered before the client's deadline")
        self.assertGreaterEqual(elapsed, 0.8, "not long before it either (deadline minus a tenth)")


class FailoverTest(unittest.TestCase):
    """Kill the leader: followers stop redirecting to it, a new leader serves, data survives."""

    def test_failover(self):
        if os.environ.get("RAFTKV_CONFORMANCE_FAILOVER", "1") != "1":
            self.skipTest("failover disabled")
        leader, st = wait_for_leader()
        client = Client(ENDPOINTS)
        key = b"failover-%d" % time.time_ns()
        self.assertEqual(client.put(key, b"before")["kv"], "stored")
        name = st["name"]
        subprocess.run([os.path.join(ROOT, "cluster.sh"), "kill", name], check=True, stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.3)  # the followers' links to the dead leader drop at once
            for ep in ENDPOINTS:
                if ep == leader:
                    continue
                c = Connection(ep)
                r = c.call(bytes([CALL_REGISTER]))
                c.close()
                self.assertNotEqual(r.get("address"), leader, "no redirect to a dead leader: %r" % r)
            new_leader, _ = wait_for_leader()
            self.assertNotEqual(new_leader, leader)
            self.assertEqual(client.get(key)["value"], b"before", "the session and the data survive")
            self.assertEqual(client.put(key, b"after")["kv"], "stored")
        finally:
            subprocess.run([os.path.join(ROOT, "cluster.sh"), "restart", name], check=True, stdout=subprocess.DEVNULL)
        client.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
