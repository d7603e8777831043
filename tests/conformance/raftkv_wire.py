"""A RaftKV client-port client written from docs/protocol.md alone (python3 stdlib only).

It is deliberately independent of the Swift code: when the document and the server
disagree, the conformance tests built on it fail.
"""
import socket
import struct
import time

MAGIC = b"RK"
VERSION = 1
HEADER = 18
CLIENT_CALL = 0x40
CLIENT_REPLY = 0x41

# ClientCall tags
CALL_KV, CALL_STATUS, CALL_MEMBERS, CALL_REGISTER, CALL_HELLO = 1, 2, 3, 4, 5
# KV command tags
PUT, GET, DELETE = 1, 2, 3
# ClientReply tags
REPLY_KV, REPLY_STATUS, REPLY_MEMBERS, REPLY_ERROR, REPLY_HELLO = 1, 2, 3, 4, 5
# Call field tags
FIELD_DEADLINE = 1
FEATURE_DEADLINES = 1 << 0


class DecodeError(Exception):
    pass


# ---- primitives -------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def lp(b):
    return varint(len(b)) + b


def string(s):
    return lp(s.encode("utf-8"))


def fields_block(fields):
    """fields: dict tag -> bytes. Empty: nothing at all."""
    if not fields:
        return b""
    out = varint(len(fields))
    for tag in sorted(fields):
        out += varint(tag) + lp(fields[tag])
    return out


class Reader:
    def __init__(self, data):
        self.data = data
        self.at = 0

    def remaining(self):
        return len(self.data) - self.at

    def u8(self):
        if self.at >= len(self.data):
            raise DecodeError("truncated at %d" % self.at)
        v = self.data[self.at]
        self.at += 1
        return v

    def varint(self):
        shift = 0
        v = 0
        for i in range(10):
            b = self.u8()
            if i == 9 and b > 1:
                raise DecodeError("malformed varint")
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise DecodeError("malformed varint")

    def bytes(self):
        n = self.varint()
        if n > self.remaining():
            raise DecodeError("length %d past the end" % n)
        v = self.data[self.at:self.at + n]
        self.at += n
        return bytes(v)

    def string(self):
        return self.bytes().decode("utf-8")

    def bool(self):
        v = self.u8()
        if v not in (0, 1):
            raise DecodeError("bad bool %d" % v)
        return v == 1

    def fields(self):
        """The optional block at the end of a body: absent when no bytes are left."""
        out = {}
        if self.remaining() == 0:
            return out
        for _ in range(self.varint()):
            tag = self.varint()
            out[tag] = self.bytes()
        return out

    def end(self):
        if self.remaining():
            raise DecodeError("%d trailing bytes" % self.remaining())


# ---- frames -----------------------------------------------------------------

def frame(ftype, request_id, body, version=VERSION, flags=0, reserved=0, magic=MAGIC):
    return magic + bytes([version, ftype, flags, reserved]) + struct.pack("<QI", request_id, len(body)) + body


def call_frame(request_id, body, deadline_ms=None, extra_fields=None):
    f = dict(extra_fields or {})
    if deadline_ms is not None:
        f[FIELD_DEADLINE] = varint(deadline_ms)
    return frame(CLIENT_CALL, request_id, body + fields_block(f))


def kv_body(client_id, sequence, floor, command, key, value=None):
    b = bytes([CALL_KV]) + varint(client_id) + varint(sequence) + varint(floor) + bytes([command]) + lp(key)
    if command == PUT:
        b += lp(value)
    return b


def hello_body(min_version=1, max_version=1, features=FEATURE_DEADLINES, name="py-conformance"):
    return bytes([CALL_HELLO]) + varint(min_version) + varint(max_version) + varint(features) + string(name)


# ---- replies ----------------------------------------------------------------

ERROR_NAMES = {1: "notLeader", 2: "unavailable", 3: "timeout", 4: "badRequest", 5: "tooLarge",
               6: "busy", 7: "shuttingDown", 8: "failed"}


def decode_error(r):
    tag = r.u8()
    name = ERROR_NAMES.get(tag)
    if name is None:
        raise DecodeError("unknown error tag %d (a server must send `failed` instead)" % tag)
    e = {"error": name}
    if tag == 1:
        e["leader_id"] = r.varint()
        e["address"] = r.string() if r.bool() else None
    elif tag in (2, 4):
        e["reason"] = r.string()
    elif tag == 5:
        e["limit"] = r.string()
        e["bytes"] = r.varint()
    elif tag == 8:
        e["code"] = r.varint()
        e["message"] = r.string()
    return e


def decode_kv(r):
    tag = r.u8()
    if tag == 1:
        return {"kv": "stored", "revision": r.varint()}
    if tag == 2:
        return {"kv": "value", "value": r.bytes()}
    if tag == 3:
        return {"kv": "value", "value": None}
    if tag == 4:
        n = r.varint()
        if n > 1:
            raise DecodeError("delete count %d" % n)
        return {"kv": "deleted", "count": n}
    if tag == 5:
        return {"kv": "sessionExpired"}
    if tag == 6:
        return {"kv": "registered", "client_id": r.varint()}
    raise DecodeError("unknown kv result tag %d" % tag)


def decode_status(r):
    s = {"name": r.string(), "id": r.varint(), "role": ["follower", "candidate", "leader"][r.u8()],
         "term": r.varint(), "leader_id": r.varint(), "leader_name": r.string()}
    for k in ("commit", "applied", "log_size", "first", "last", "sessions", "session_limit", "undecodable"):
        s[k] = r.varint()
    return s


def decode_hello(r):
    h = {"version": r.varint(), "features": r.varint(), "node_id": r.varint(), "node_name": r.string()}
    for k in ("max_key", "max_value", "max_call", "max_frame", "max_inflight", "request_timeout_ms"):
        h[k] = r.varint()
    return h


def decode_reply(body):
    r = Reader(body)
    tag = r.u8()
    if tag == REPLY_KV:
        out = decode_kv(r)
    elif tag == REPLY_STATUS:
        out = {"status": decode_status(r)}
    elif tag == REPLY_MEMBERS:
        members = []
        for _ in range(r.varint()):
            members.append({"id": r.varint(), "name": r.string(), "peer_url": r.string(), "client_url": r.string()})
        out = {"members": members}
    elif tag == REPLY_ERROR:
        out = decode_error(r)
    elif tag == REPLY_HELLO:
        out = {"hello": decode_hello(r)}
    else:
        raise DecodeError("unknown reply tag %d" % tag)
    out["fields"] = r.fields()  # skipped: none are defined for replies yet
    r.end()
    return out


# ---- a connection -----------------------------------------------------------

class Closed(Exception):
    pass


class Connection:
    """One TCP connection; replies are matched by request id and may come in any order."""

    def __init__(self, address, timeout=10.0):
        host, port = address.rsplit(":", 1)
        self.address = address
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.replies = {}
        self.next_id = 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def _read_frame(self):
        while True:
            if len(self.buf) >= HEADER:
                if self.buf[:2] != MAGIC:
                    raise DecodeError("bad magic from server")
                (rid, n) = struct.unpack("<QI", self.buf[6:18])
                if self.buf[3] != CLIENT_REPLY or self.buf[5] != 0:
                    raise DecodeError("unexpected frame type 0x%02x" % self.buf[3])
                if len(self.buf) >= HEADER + n:
                    body = self.buf[HEADER:HEADER + n]
                    self.buf = self.buf[HEADER + n:]
                    return rid, body  # the flags byte is ignored, as the document says
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise Closed("server closed the connection")
            self.buf += chunk

    def reply(self, rid):
        """The next reply carrying `rid` (others are kept for later)."""
        while not self.replies.get(rid):
            r, body = self._read_frame()
            self.replies.setdefault(r, []).append(decode_reply(body))
        return self.replies[rid].pop(0)

    def call(self, body, deadline_ms=None, extra_fields=None):
        rid = self.new_id()
        self.send_raw(call_frame(rid, body, deadline_ms, extra_fields))
        return self.reply(rid)

    def closed_by_server(self, wait=5.0):
        """True once the server has closed (recv returns EOF)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, OSError):
            return False


# ---- a client: leader finding, sessions, retries ------------------------------

class Client:
    """Finds the leader by following notLeader, backs off on unavailable/busy, retries a
    timed-out call with the same sequence, and keeps one registered session."""

    def __init__(self, endpoints, give_up_after=30.0):
        self.endpoints = list(endpoints)
        self.give_up_after = give_up_after
        self.conn = None
        self.target = self.endpoints[0]
        self.client_id = None
        self.sequence = 0
        self.redirects = []  # (from, to) addresses followed, for the tests

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def _connect(self, address):
        if self.conn and self.conn.address == address:
            return self.conn
        self.close()
        self.conn = Connection(address, timeout=5.0)
        return self.conn

    def _next_endpoint(self):
        i = self.endpoints.index(self.target) if self.target in self.endpoints else -1
        self.target = self.endpoints[(i + 1) % len(self.endpoints)]

    def call(self, body):
        """Sends `body` until a definitive answer: a KV result or a non-retryable error."""
        deadline = time.time() + self.give_up_after
        while time.time() < deadline:
            try:
                reply = self._connect(self.target).call(body)
            except (OSError, Closed):
                self.close()
                self._next_endpoint()
                time.sleep(0.05)
                continue
            err = reply.get("error")
            if err == "notLeader" and reply.get("address"):
                self.redirects.append((self.target, reply["address"]))
                self.target = reply["address"]
                continue
            if err in ("notLeader", "unavailable", "shuttingDown"):
                self._next_endpoint()
                time.sleep(0.1)
                continue
            if err in ("busy", "timeout"):
                time.sleep(0.1)
                continue  # same body: same sequence, the session dedupes
            return reply
        raise TimeoutError("no definitive answer within %.0fs" % self.give_up_after)

    def register(self):
        reply = self.call(bytes([CALL_REGISTER]))
        assert reply.get("kv") == "registered", reply
        self.client_id = reply["client_id"]
        self.sequence = 0
        return self.client_id

    def request(self, command, key, value=None):
        if self.client_id is None:
            self.register()
        self.sequence += 1
        return self.call(kv_body(self.client_id, self.sequence, self.sequence, command, key, value))

    def put(self, key, value):
        return self.request(PUT, key, value)

    def get(self, key):
        return self.request(GET, key)

    def delete(self, key):
        return self.request(DELETE, key)
