"""Runs every MicroPython-only test module (host_tests/mp/test_*.py) under the real binary."""
import os

import pytest

import mpy

MP_DIR = os.path.join(mpy.ROOT, "host_tests", "mp")
MODULES = sorted(f[:-3] for f in os.listdir(MP_DIR) if f.startswith("test_") and f.endswith(".py"))


@pytest.mark.parametrize("module", MODULES)
def test_micropython_module(module):
    proc = mpy.run_script(os.path.join(MP_DIR, "runner.py"), [module], extra_path=[MP_DIR],
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert " passed, 0 failed" in out, out
