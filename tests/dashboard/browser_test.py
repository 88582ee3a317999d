"""The dashboard browser test: a 3-node cluster, then headless chromium
driven by playwright-core (tests/browser/dashboard_test.mjs).

Usage: /usr/bin/python3 browser_test.py <troupe-node binary> <artifact dir> [docs png]
The screenshots land in the artifact dir; with a third argument the
healthy-cluster screenshot is also copied there (docs/dashboard-3-nodes.png).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")


def main():
    binary, artifacts = sys.argv[1], sys.argv[2]
    docs = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else ""
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        print("playwright-core is not installed in tests/browser; run deploy/install-deps.sh")
        return 1
    if not os.access("/usr/bin/chromium", os.X_OK):
        print("/usr/bin/chromium is missing (Debian package chromium); run deploy/install-deps.sh")
        return 1
    cluster = Cluster(binary, first=70)
    try:
        n1, n3 = cluster.dashboard, cluster.nodes[2]
        url = f"http://{n1.host}:{n1.admin_port}/"
        args = ["node", os.path.join(BROWSER_DIR, "dashboard_test.mjs"), url, n3.id,
                str(n3.proc.pid), artifacts] + ([docs] if docs else [])
        rc = subprocess.run(args, cwd=BROWSER_DIR, timeout=120).returncode
        if rc != 0:
            print("dashboard node log:\n" + n1.log_tail())
        return rc
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
