"""Shared test set-up: firmware and host-board modules importable under CPython."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "firmware"),
                os.path.join(os.path.dirname(HERE), "boards", "host")]

import mpy  # noqa: E402

# MicroPython-only tests run through test_mp_suite.py, not as CPython modules.
collect_ignore = ["mp", "mp_worker.py"]


@pytest.fixture(scope="module")
def mp_worker():
    """One long-lived micropython process per test module (a crash stays inside its module)."""
    w = mpy.Worker()
    yield w
    w.close()
