#!/usr/bin/python3
"""A programmable HTTP/1.1 origin for the edge's tests and benchmarks.

    /usr/bin/python3 tests/origin/test_origin.py --host 127.0.0.1 --port 0 --port-file F

Writes the bound port to --port-file (and stdout) once listening. Every
request to a path is counted. Responses are programmed per path through the
control API (JSON over HTTP, on the same port):

  POST /__control/route   {"path": "/a", "status": 200, "headers": {"Cache-Control": "max-age=60"},
                           "body": "text" | "body_size": N, "delay_ms": 0, "chunked": false}
  GET  /__control/count?path=/a      -> {"count": N}   (requests seen for /a, any query)
  GET  /__control/last?path=/a       -> {"method": ..., "headers": [[name, value], ...]}
  POST /__control/reset              -> forget routes and counts
  GET  /__control/health             -> 200 (not counted)

Unprogrammed paths answer 200 with "Cache-Control: max-age=60" and the body
"origin <path>". Query strings are part of neither the route nor the count.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
ROUTES = {}
COUNTS = {}
LAST = {}
MAX_BODY = 64 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "troupe-test-origin"

    def log_message(self, *args):  # quiet
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, MAX_BODY)) if n else b""

    def _send(self, status, headers, body, chunked=False, head=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head or status in (204, 304):
            return
        if chunked:
            step = max(1, len(body) // 3)
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, [("Content-Type", "application/json")],
                   json.dumps(obj).encode())

    def _control(self, path, query):
        if path == "/__control/health":
            return self._json(200, {"ok": True})
        if path == "/__control/reset":
            with LOCK:
                ROUTES.clear(); COUNTS.clear(); LAST.clear()
            return self._json(200, {"ok": True})
        if path == "/__control/route":
            spec = json.loads(self._body() or b"{}")
            with LOCK:
                ROUTES[spec["path"]] = spec
            return self._json(200, {"ok": True})
        if path == "/__control/count":
            p = query.get("path", [""])[0]
            with LOCK:
                return self._json(200, {"count": COUNTS.get(p, 0)})
        if path == "/__control/last":
            p = query.get("path", [""])[0]
            with LOCK:
                return self._json(200, LAST.get(p, {}))
        return self._json(404, {"error": "unknown control path"})

    def _serve(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path.startswith("/__control/"):
            return self._control(url.path, query)
        request_body = self._body()
        with LOCK:
            COUNTS[url.path] = COUNTS.get(url.path, 0) + 1
            LAST[url.path] = {"method": self.command, "target": self.path,
                              "headers": [[k, v] for k, v in self.headers.items()],
                              "body_size": len(request_body)}
            spec = dict(ROUTES.get(url.path, {}))
        if spec.get("delay_ms"):
            time.sleep(spec["delay_ms"] / 1000.0)
        status = int(spec.get("status", 200))
        headers = list((spec.get("headers") or {"Cache-Control": "max-age=60"}).items())
        if "body_size" in spec:
            body = (b"x" * int(spec["body_size"]))
        else:
            body = spec.get("body", "origin " + url.path).encode()
        self._send(status, headers, body, chunked=bool(spec.get("chunked")),
                   head=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", default="")
    args = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 512
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
