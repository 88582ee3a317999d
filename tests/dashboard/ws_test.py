"""WebSocket protocol tests of the dashboard against a real 3-node cluster.

A real client (Debian's python3-websockets) checks the handshake, the first
snapshot, a delta after a node change, ping/pong, resume, an oversized
frame, cross-origin refusal; raw sockets send what no real client would
(an unmasked frame, invalid UTF-8) and play a slow reader.

Usage: /usr/bin/python3 ws_test.py <troupe-node binary>
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, wait_until  # noqa: E402

BINARY = None
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TOKEN = "test-token-1234"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching message in time")
        msg = await recv_json(ws, left)
        if pred(msg):
            return msg


class Raw:
    """A WebSocket client on a plain socket, for frames real clients never send."""

    def __init__(self, host, port, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()

    def send_frame(self, opcode, payload, mask=True, fin=True):
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", first, (0x80 if mask else 0) | n)
        elif n < 65536:
            header = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
        else:
            header = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            header += key
        self.sock.sendall(header + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def read_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(pos + n)
        payload, self.buf = self.buf[pos:pos + n], self.buf[pos + n:]
        return b0 & 0x0F, payload

    def read_close(self):
        """Reads frames until the close frame; returns (code, reason)."""
        while True:
            op, payload = self.read_frame()
            if op == 8:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def close(self):
        self.sock.close()


class DashboardWebSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(BINARY, first=60, extra=["--dashboard-token", TOKEN])
        cls.n1 = cls.cluster.dashboard
        cls.url = f"ws://{cls.n1.host}:{cls.n1.admin_port}/ws"

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def metric(self, name):
        _, body = self.n1.get("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def test_0_metrics_pass_promtool(self):
        _, body = self.n1.get("/metrics")
        self.assertIn("troupe_dashboard_connections_open", body)
        check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(),
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, b"")

    def test_1_handshake_accept_key(self):
        raw = Raw(self.n1.host, self.n1.admin_port)
        try:
            self.assertTrue(raw.head.startswith("HTTP/1.1 101 "), raw.head)
            want = base64.b64encode(hashlib.sha1(raw.key.encode() + GUID).digest()).decode()
            self.assertIn(f"Sec-WebSocket-Accept: {want}", raw.head)
            op, payload = raw.read_frame()
            self.assertEqual(op, 1)
            self.assertEqual(json.loads(payload)["type"], "hello")
        finally:
            raw.close()

    def test_2_snapshot_first(self):
        async def go():
            async with websockets.connect(self.url, max_size=None) as ws:
                hello = await recv_json(ws)
                self.assertEqual(hello["type"], "hello")
                self.assertEqual(hello["node"], "n1")
                self.assertTrue(hello["actions_available"])
                snap = await recv_json(ws)
                self.assertEqual(snap["type"], "snapshot")
                self.assertEqual(sorted(snap["nodes"]), ["n1", "n2", "n3"])
                self.assertEqual(snap["nodes"]["n2"]["region"], "eu")
                self.assertEqual(snap["nodes"]["n3"]["zone"], "a")
                self.assertIsInstance(snap["rev"], int)
                # Deltas follow, numbered on from the snapshot's revision.
                delta = await recv_until(ws, lambda m: m["type"] == "delta", 5)
                self.assertGreater(delta["rev"], snap["rev"])
        run(go())

    def test_2b_role_panels(self):
        # n1 runs every role: its metrics points carry the cache's and the
        # edge's counters, asked from cache/n1 and edge/n1 by name.
        def n1_roles(m):
            if m["type"] != "delta":
                return False
            point = (m.get("metrics") or {}).get("nodes", {}).get("n1", {})
            return "cache" in point and "edge" in point

        async def go():
            async with websockets.connect(self.url, max_size=None) as ws:
                delta = await recv_until(ws, n1_roles, 10)
                point = delta["metrics"]["nodes"]["n1"]
                self.assertGreater(point["cache"]["max_memory"], 0)
                self.assertIn("hit_ratio", point["cache"])
                self.assertIn("requests", point["edge"])
                self.assertIsInstance(point["origins"], list)
        run(go())

    def test_3_ping_pong_and_resume(self):
        async def go():
            async with websockets.connect(self.url, max_size=None, ping_interval=None) as ws:
                await recv_json(ws)
                snap = await recv_json(ws)
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 3)
                # A revision the server no longer holds gets a fresh snapshot.
                await ws.send(json.dumps({"type": "resume", "rev": 10**12}))
                again = await recv_until(ws, lambda m: m["type"] == "snapshot", 5)
                self.assertGreaterEqual(again["rev"], snap["rev"])
                await ws.send("not json")
                err = await recv_until(ws, lambda m: m["type"] == "error", 5)
                self.assertIn("JSON", err["message"])
        run(go())

    def test_3b_actions_need_the_token(self):
        def restarts():
            _, body = self.n1.get("/api/actors/n2")
            actors = json.loads(body).get("actors", {})
            self.assertIn("probe/n2", actors, body[:2000])
            return actors["probe/n2"]["restarts"]

        async def go():
            async with websockets.connect(self.url, max_size=None) as ws:
                kill = json.dumps({"type": "kill", "actor": "probe/n2"})
                await ws.send(kill)
                act = await recv_until(ws, lambda m: m["type"] == "action", 5)
                self.assertFalse(act["ok"])
                self.assertIn("token", act["message"])
                await ws.send(json.dumps({"type": "auth", "token": "wrong-token-99"}))
                self.assertFalse((await recv_until(ws, lambda m: m["type"] == "auth", 5))["ok"])
                await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
                self.assertTrue((await recv_until(ws, lambda m: m["type"] == "auth", 5))["ok"])
                before = restarts()
                await ws.send(kill)
                act = await recv_until(ws, lambda m: m["type"] == "action", 5)
                self.assertTrue(act["ok"], act)
                self.assertTrue(wait_until(lambda: restarts() > before, 5))
        run(go())

    def test_4_oversized_frame_closes_1009(self):
        async def go():
            async with websockets.connect(self.url, max_size=None) as ws:
                await ws.send("x" * (200 * 1024))
                with self.assertRaises(websockets.exceptions.ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
                self.assertEqual(ws.close_code, 1009)
        run(go())

    def test_5_unmasked_frame_closes_1002(self):
        raw = Raw(self.n1.host, self.n1.admin_port)
        try:
            raw.send_frame(1, b'{"type":"resume","rev":0}', mask=False)
            code, reason = raw.read_close()
            self.assertEqual(code, 1002)
            self.assertIn("not masked", reason)
        finally:
            raw.close()

    def test_6_invalid_utf8_closes_1007(self):
        raw = Raw(self.n1.host, self.n1.admin_port)
        try:
            raw.send_frame(1, b'{"type":"\xff"}')
            self.assertEqual(raw.read_close()[0], 1007)
        finally:
            raw.close()

    def test_7_cross_origin_refused(self):
        async def go():
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as ctx:
                async with websockets.connect(self.url, origin="http://evil.example"):
                    pass
            self.assertEqual(ctx.exception.status_code, 403)
            same = f"http://{self.n1.host}:{self.n1.admin_port}"
            async with websockets.connect(self.url, origin=same) as ws:
                self.assertEqual((await recv_json(ws))["type"], "hello")
        run(go())

    def test_8_slow_reader_is_closed_1008(self):
        # A reader with a tiny receive window asks for snapshot after
        # snapshot and reads nothing: its queue fills, messages are dropped,
        # and after the slow-reader timeout it is closed with 1008.
        before = self.metric("troupe_dashboard_slow_disconnects_total") or 0
        raw = Raw(self.n1.host, self.n1.admin_port, rcvbuf=4096)
        try:
            for _ in range(4):  # under the 100 messages per second limit
                for _ in range(80):
                    raw.send_frame(1, b'{"type":"resume","rev":0}')
                time.sleep(1.05)
                if (self.metric("troupe_dashboard_messages_dropped_total") or 0) > 0:
                    break
            self.assertGreater(self.metric("troupe_dashboard_messages_dropped_total") or 0, 0,
                               "the send queue never filled")
            self.assertTrue(wait_until(
                lambda: (self.metric("troupe_dashboard_slow_disconnects_total") or 0) > before,
                10))
            raw.sock.settimeout(10)
            code, reason = raw.read_close()
            self.assertEqual(code, 1008)
            self.assertIn("too slowly", reason)
        finally:
            raw.close()
        # The node still serves everyone else.
        self.assertEqual(self.n1.get("/api/cluster")[0], 200)

    def test_9_delta_after_node_change(self):
        async def go():
            async with websockets.connect(self.url, max_size=None) as ws:
                await recv_json(ws)
                snap = await recv_json(ws)
                self.assertEqual(snap["nodes"]["n3"]["status"], "up")
                started = time.monotonic()
                self.cluster.nodes[2].kill9()
                delta = await recv_until(
                    ws, lambda m: m["type"] == "delta"
                    and m.get("nodes", {}).get("n3", {}).get("status") == "down", 5)
                self.assertLess(time.monotonic() - started, 5)
                self.assertTrue(delta["nodes"]["n3"]["reason"])
        run(go())
        status, body = self.n1.get("/api/nodes/n3")
        self.assertEqual(json.loads(body)["node"]["status"], "down")


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)
