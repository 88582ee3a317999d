"""The edge's L2: three nodes that are each a cache node and an edge, one
test origin (tests/origin/test_origin.py), a cache cluster.

Usage: /usr/bin/python3 edge_l2_test.py BINARY_DIR

1. GET /l2/a through edge 1: a miss, the origin counts 1 request.
2. GET /l2/a through edges 2 and 3 (whose L1 is empty): served from L2,
   the origin still counts 1; Cache-Status says hit and Age is there.
3. `troupectl edge purge --url`: every edge reports, and the next GET
   through edge 2 goes to the origin again (count 2): L2 forgot it too.
4. /l2/t is tagged (Surrogate-Key: t1), fetched once through edge 1, then
   evicted from nobody's L1 but purged by key: a GET through edge 3 (L1
   empty) must go to the origin, not be brought back by L2.
Exit 1 on any failed check.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clusters  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = os.path.join(HERE, "..", "origin", "test_origin.py")


SITE = "site.test"  # every edge serves the same site, as behind one DNS name


def http(method, url, body=None, headers=None, timeout=3.0):
    if headers is None and "/__control/" not in url:
        headers = {"Host": SITE}
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read().decode(errors="replace")


class Checks:
    def __init__(self):
        self.failed = 0

    def expect(self, ok, what, detail=""):
        print(f"{'ok' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""),
              flush=True)
        self.failed += 0 if ok else 1


def main():
    binary_dir = sys.argv[1]
    host = "127.0.0.190"
    port_file = tempfile.mktemp(prefix="troupe-l2-origin-")
    origin = subprocess.Popen(["/usr/bin/python3", ORIGIN, "--host", host, "--port", "0",
                               "--port-file", port_file], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    cluster = None
    checks = Checks()
    try:
        if not clusters.wait_until(lambda: os.path.exists(port_file)
                                   and open(port_file).read().strip(), 10):
            print("FAIL the test origin did not start")
            return 1
        oport = int(open(port_file).read().strip())
        base = f"http://{host}:{oport}"
        cluster = clusters.TroupeCluster(binary_dir, first=191, extra=[
            "--role", "consensus,cache,edge", "--origin", base])
        edges = [f"http://{n.host}:8080" for n in cluster.nodes]

        def count(path):
            return json.loads(http("GET", f"{base}/__control/count?path={path}")[2])["count"]

        def route(path, headers):
            http("POST", f"{base}/__control/route", json.dumps(
                {"path": path, "status": 200, "headers": headers,
                 "body": "body of " + path}).encode(), {"Content-Type": "application/json"})

        route("/l2/a", {"Cache-Control": "max-age=300"})
        s, h, b = http("GET", edges[0] + "/l2/a")
        checks.expect(s == 200 and count("/l2/a") == 1, "edge 1: a miss fetches from the origin",
                      f"{s} {h.get('Cache-Status')} count={count('/l2/a')}")
        time.sleep(0.3)  # the put to L2 is asynchronous
        for i in (1, 2):
            s, h, b = http("GET", edges[i] + "/l2/a")
            checks.expect(s == 200 and b == "body of /l2/a" and count("/l2/a") == 1
                          and "hit" in (h.get("Cache-Status") or "") and "Age" in h,
                          f"edge {i + 1}: served from L2, the origin still counts 1",
                          f"{s} Cache-Status={h.get('Cache-Status')} Age={h.get('Age')} "
                          f"count={count('/l2/a')}")
        purge = subprocess.run(cluster.troupectl_args("edge", "purge", "--url",
                                                      f"http://{SITE}/l2/a"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=20)
        checks.expect(purge.returncode == 0, "troupectl edge purge --url", purge.stdout[-300:])
        time.sleep(0.3)
        s, h, b = http("GET", edges[1] + "/l2/a")
        checks.expect(s == 200 and count("/l2/a") == 2,
                      "after the purge, edge 2 goes to the origin again (L2 forgot it too)",
                      f"count={count('/l2/a')} Cache-Status={h.get('Cache-Status')}")

        route("/l2/t", {"Cache-Control": "max-age=300", "Surrogate-Key": "t1"})
        http("GET", edges[0] + "/l2/t")
        time.sleep(0.3)
        s, h, b = http("GET", edges[1] + "/l2/t")
        checks.expect(count("/l2/t") == 1, "a tagged object is in L2 (edge 2 served it)",
                      f"count={count('/l2/t')}")
        purge = subprocess.run(cluster.troupectl_args("edge", "purge", "--key", "t1"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=20)
        checks.expect(purge.returncode == 0, "troupectl edge purge --key t1", purge.stdout[-300:])
        time.sleep(0.3)
        s, h, b = http("GET", edges[2] + "/l2/t")
        checks.expect(count("/l2/t") == 2,
                      "after the purge by key, edge 3 (empty L1) goes to the origin",
                      f"count={count('/l2/t')} Cache-Status={h.get('Cache-Status')}")
    except Exception as e:
        checks.expect(False, "edge L2 test ran", f"{type(e).__name__}: {e}")
        if cluster:
            print(cluster.nodes[0].log_tail(30))
    finally:
        if cluster:
            cluster.stop()
        origin.terminate()
        origin.wait(5)
        if os.path.exists(port_file):
            os.unlink(port_file)
    print("edge l2: " + ("FAIL" if checks.failed else "ok"))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
