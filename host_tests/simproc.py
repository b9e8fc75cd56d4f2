"""Start the firmware process on the host board and talk to its control channel (end-to-end tests)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import mpy

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import meterctl  # noqa: E402


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sim:
    """One firmware process; use as a context manager. `state_dir` persists across instances."""

    def __init__(self, *args, model="me382", state_dir=None, start="2026-01-01T00:00:00"):
        self.port = free_port()
        self._tmp = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory()
            state_dir = self._tmp.name
        self.state_dir = state_dir
        self.cmd = [mpy.MICROPYTHON, os.path.join(mpy.FIRMWARE, "main.py"), "--model", model,
                    "--state", state_dir, "--control-port", str(self.port), "--wrapper-port", "0",
                    "--optical-port", "0",
                    "--start", start] + list(args)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=mpy.ROOT)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.ctl("status")
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out, err = self.proc.communicate(timeout=5)
                    raise RuntimeError("firmware did not start:\n" + out + err)
                time.sleep(0.05)

    def ctl(self, cmd, **fields):
        """Send one control request, return the reply dict."""
        req = {"cmd": cmd}
        req.update(fields)
        return meterctl.request(req, port=self.port, timeout=60)

    def status(self):
        rsp = self.ctl("status")
        assert rsp["ok"], rsp
        return rsp["status"]

    def wait_meter_time(self, t, timeout=30):
        """Wait until meter time reaches `t` (seconds since 2000)."""
        deadline = time.monotonic() + timeout
        while self.status()["time"] < t:
            if time.monotonic() > deadline:
                raise TimeoutError("meter time did not reach %d" % t)
            time.sleep(0.02)

    def stop(self, timeout=30):
        """Ask the meter to save and exit; return (exit status, stderr)."""
        if self.proc.poll() is None:
            try:
                self.ctl("stop")
            except OSError:
                pass
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, err

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.stop()
        if self._tmp:
            self._tmp.cleanup()
