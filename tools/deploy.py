#!/usr/bin/env python3
"""Copy the compiled firmware and one board's modules to a device with mpremote.

Device layout: firmware packages (measure/, runtime/ ...) and the board modules (hw.mpy ...) at the
root of the device file system, main.py as source so the board runs it at boot.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


def plan(build, board):
    """Return (directories to create, [(local file, remote path)]) for a deployment."""
    fw = os.path.join(build, "firmware")
    bd = os.path.join(build, "boards", board)
    if not os.path.isdir(fw) or not os.path.isdir(bd):
        raise SystemExit("deploy: no compiled firmware or board %r under %s (run make mpy)"
                         % (board, build))
    dirs, files = [], []
    for top, prefix in ((fw, ""), (bd, "")):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel = os.path.relpath(dirpath, top)
            remote_dir = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            if remote_dir:
                dirs.append(":" + prefix + remote_dir.rstrip("/"))
            for f in sorted(filenames):
                if f == "main.mpy":
                    continue
                files.append((os.path.join(dirpath, f), ":" + prefix + remote_dir + f))
    files.append((os.path.join(ROOT, "firmware", "main.py"), ":main.py"))
    return dirs, files


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", required=True, help="serial device of the board, e.g. /dev/ttyACM0")
    p.add_argument("--board", default="pyboard_ads131")
    p.add_argument("--build", default=os.path.join(ROOT, "build", "mpy"))
    p.add_argument("--dry-run", action="store_true", help="print the mpremote command only")
    a = p.parse_args(argv)
    dirs, files = plan(a.build, a.board)
    cmd = [MPREMOTE, "connect", a.port]
    if dirs:
        # `fs mkdir` fails on an existing folder; an exec that ignores EEXIST makes redeploys work.
        mk = "import os\nfor d in %r:\n try: os.mkdir(d)\n except OSError: pass" % (
            [d[1:] for d in dirs],)
        cmd += ["exec", mk, "+"]
    for local, remote in files:
        cmd += ["fs", "cp", local, remote, "+"]
    cmd += ["reset"]
    if a.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
