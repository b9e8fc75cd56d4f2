#!/usr/bin/env python3
"""`make bench`: run every benchmark script in turn; each prints its own figures and ratios."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["kernel_bench.py", "afe_bench.py", "realtime.py", "accuracy.py", "crypto_bench.py",
           "cosem_bench.py", "profile_bench.py",
           "year_bench.py",
           "pq_bench.py"]


def main():
    failed = []
    for name in SCRIPTS:
        print("== %s" % name, flush=True)
        rc = subprocess.call([sys.executable, os.path.join(HERE, name)])
        if rc:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
