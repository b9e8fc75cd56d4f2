"""Runs every MicroPython-only test module (host_tests/mp/test_*.py) under the real binary."""
import os

import pytest

import mpy

MP_DIR = os.path.join(mpy.ROOT, "host_tests", "mp")
MODULES = sorted(f[:-3] for f in os.listdir(MP_DIR) if f.startswith("test_") and f.endswith(".py"))


@pytest.mark.parametrize("module", MODULES)
def test_micropython_module(module):
    # The host board keeps its whole NV memory in RAM: a PC-sized heap (memory limits of the
    # firmware itself are measured with explicit heap sizes where they matter).
    proc = mpy.run_script(os.path.join(MP_DIR, "runner.py"), [module], extra_path=[MP_DIR],
                          timeout=300, heapsize="8M")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert " passed, 0 failed" in out, out
