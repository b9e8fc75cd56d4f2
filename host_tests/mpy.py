"""Run code under the real `micropython` binary: one-shot scripts and a long-lived worker.

The worker speaks one JSON object per line on stdin/stdout so that differential tests can feed the
same inputs to a CPython reference and to the MicroPython (viper) implementation.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
HOST_BOARD = os.path.join(ROOT, "boards", "host")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
WORKER = os.path.join(ROOT, "host_tests", "mp_worker.py")


def mp_env(extra_path=()):
    """Environment whose MICROPYPATH holds the firmware, the host board and `extra_path`."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(["", ".frozen", FIRMWARE, HOST_BOARD] + list(extra_path))
    return env


def run_script(path, args=(), timeout=120, heapsize=None, extra_path=()):
    """Run a MicroPython script file; return the CompletedProcess (text mode)."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=" + heapsize]
    cmd += [path] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=mp_env(extra_path), cwd=ROOT)


def run_code(code, timeout=120, heapsize=None):
    """Run a source snippet with `micropython -c`; return stdout, raise on a non-zero exit."""
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=" + heapsize]
    cmd += ["-c", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=mp_env(), cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError("micropython failed:\n" + proc.stdout + proc.stderr)
    return proc.stdout


class Worker:
    """A long-lived `micropython` process that executes statements and evaluates expressions."""

    def __init__(self, heapsize=None):
        cmd = [MICROPYTHON]
        if heapsize:
            cmd += ["-X", "heapsize=" + heapsize]
        cmd.append(WORKER)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=mp_env(), cwd=ROOT, text=True, bufsize=1)

    def _call(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("micropython worker exited")
        rsp = json.loads(line)
        if "error" in rsp:
            raise RuntimeError("micropython: " + rsp["error"])
        return rsp.get("value")

    def exec(self, code):
        """Execute statements in the worker's global namespace."""
        return self._call({"exec": code})

    def eval(self, expr):
        """Evaluate an expression; its value must be JSON-serialisable."""
        return self._call({"eval": expr})

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
