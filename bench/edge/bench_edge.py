#!/usr/bin/python3
"""troupe's edge against nginx as a caching proxy, side by side (issue 5).

    bench/edge/bench_edge.py --node BUILD/actors/troupe-node [--runs 3] [--duration 8]

Starts the test origin (tests/origin/test_origin.py), one troupe-node with
the edge role and one nginx (worker_processes 2, proxy_cache) in front of
it, warms both caches, then for each body size runs wrk -t2 -c100 --latency
against troupe and nginx in turn, `--runs` times, and prints the medians of
req/s, p50 and p99 and the ratio troupe/nginx. Also measures each server's
bare HTTP ceiling once: a CAF broker (troupe's admin port, /livez) and
nginx's `return 200`. Every process it starts is stopped by PID at the end.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"


def free_port():
    import socket
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
                return True
        except Exception:
            time.sleep(0.1)
    return False


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, dict(r.headers), r.read()


NGINX_CONF = """
{user}
worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  proxy_cache_path {dir}/cache levels=1:2 keys_zone=edge:64m max_size=1g inactive=60m use_temp_path=off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream origin {{ server {host}:{origin}; keepalive 32; }}
  server {{
    listen {host}:{port} reuseport;
    keepalive_requests 1000000;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_lock on;
      add_header X-Cache $upstream_cache_status;
    }}
  }}
  server {{
    listen {host}:{bare} reuseport;
    keepalive_requests 1000000;
    location / {{ return 200 "ok"; }}
  }}
}}
"""


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(pct):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % pct, out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat(50), "p99": lat(99),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else ""}


def wrk(url, duration, conns):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency", url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default=os.path.join(ROOT, "build", "actors", "troupe-node"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--edge-threads", type=int, default=2)
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("bench-edge: %s is missing; run deploy/install-deps.sh --bench" % tool)
    work = tempfile.mkdtemp(prefix="troupe-bench-edge-")
    procs = []
    try:
        oport, eport, aport, cport = free_port(), free_port(), free_port(), free_port()
        nport, bport = free_port(), free_port()
        origin = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/origin/test_origin.py"),
                                   "--host", HOST, "--port", str(oport)], stdout=subprocess.DEVNULL)
        procs.append(origin)
        if not wait_http("http://%s:%d/__control/health" % (HOST, oport)):
            sys.exit("bench-edge: the test origin did not start")
        for name, size in (("1k", 1024), ("100k", 102400)):
            body = ('{"path": "/%s", "body_size": %d, "headers": {"Cache-Control": "max-age=600",'
                    ' "Content-Type": "application/octet-stream"}}' % (name, size)).encode()
            urllib.request.urlopen(urllib.request.Request(
                "http://%s:%d/__control/route" % (HOST, oport), data=body, method="POST")).read()
        node_log = open(os.path.join(work, "node.log"), "w")
        node = subprocess.Popen([args.node, "--node-id", "bench-edge", "--role", "edge",
                                 "--listen", "%s:%d" % (HOST, cport),
                                 "--admin-listen", "%s:%d" % (HOST, aport),
                                 "--http-listen", "%s:%d" % (HOST, eport),
                                 "--data-dir", os.path.join(work, "data"),
                                 "--origin", "http://%s:%d" % (HOST, oport),
                                 "--edge-threads", str(args.edge_threads), "--log-level", "warn",
                                 "--insecure"],
                                stdout=node_log, stderr=node_log)
        procs.append(node)
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            # As root, nginx's workers would run as nobody and could not
            # write the cache in our private temporary directory.
            user = "user root;" if os.geteuid() == 0 else ""
            f.write(NGINX_CONF.format(user=user, dir=work, host=HOST, origin=oport, port=nport,
                                      bare=bport))
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx = subprocess.Popen([nginx_bin, "-c", os.path.join(work, "nginx.conf"), "-p", work],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx)
        troupe = "http://%s:%d" % (HOST, eport)
        peer = "http://%s:%d" % (HOST, nport)
        if not wait_http(troupe + "/1k") or not wait_http(peer + "/1k"):
            node_log.flush()
            for log in ("node.log", "error.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    print("--- %s:\n%s" % (log, open(path).read()[-3000:]), file=sys.stderr)
            sys.exit("bench-edge: troupe-node or nginx did not start")
        for base, header in ((troupe, "X-Cache"), (peer, "X-Cache")):
            for name in ("1k", "100k"):
                get(base + "/" + name)
                status, headers, _ = get(base + "/" + name)
                if status != 200 or headers.get(header) != "HIT":
                    sys.exit("bench-edge: %s/%s is not a cache hit after warming (%s=%s)"
                             % (base, name, header, headers.get(header)))
        print("edge bench: wrk -t2 -c%d -d%ds --latency, %d runs each, alternating; troupe edge "
              "threads %d, nginx worker_processes 2" % (args.connections, args.duration, args.runs,
                                                       args.edge_threads))
        rows = []
        for name in ("1k", "100k"):
            results = {"troupe": [], "nginx": []}
            for run in range(args.runs):
                for who, base in (("troupe", troupe), ("nginx", peer)):
                    r = wrk(base + "/" + name, args.duration, args.connections)
                    results[who].append(r)
                    print("  run %d %-6s /%-4s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s" % (
                        run + 1, who, name, r["rps"], r["p50"], r["p99"],
                        "  non-2xx %d" % r["non2xx"] if r["non2xx"] else ""), flush=True)
            med = {w: {k: statistics.median(x[k] for x in v) for k in ("rps", "p50", "p99")}
                   for w, v in results.items()}
            rows.append((name, med))
        ceil_troupe = wrk("http://%s:%d/livez" % (HOST, aport), args.duration, 50)
        ceil_nginx = wrk("http://%s:%d/" % (HOST, bport), args.duration, 50)
        print()
        print("| test | troupe req/s | nginx req/s | ratio | troupe p50 | nginx p50 | troupe p99 | nginx p99 |")
        print("|---|---|---|---|---|---|---|---|")
        for name, med in rows:
            t, n = med["troupe"], med["nginx"]
            print("| %s hits | %.0f | %.0f | %.2fx | %.2f ms | %.2f ms | %.2f ms | %.2f ms |" % (
                name, t["rps"], n["rps"], t["rps"] / n["rps"], t["p50"], n["p50"], t["p99"], n["p99"]))
        print()
        print("bare HTTP ceiling, wrk -t2 -c50: CAF broker (troupe admin /livez) %.0f req/s; "
              "nginx return 200: %.0f req/s" % (ceil_troupe["rps"], ceil_nginx["rps"]))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
