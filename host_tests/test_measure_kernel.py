"""Sampling kernel: viper (real micropython) vs reference (CPython) bit for bit, exact sums, int32.

The same driver source runs in both interpreters: it cuts a signal into blocks, runs the passes
like the metrology glue does (window closes, delay and DC reference changes between windows)
and snapshots every state array and ring after every call.
"""
import os
import random
import subprocess
import tempfile
from array import array

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mpy
import waveform as wf
from measure import kernel_ref, layout

DRIVER = r'''
from array import array
from measure import layout


def _same(a):
    return a


def kernel_drive(kern, raw, nch, phases, splits, cfg, ks, fix=None):
    if fix is None:
        fix = _same
    buf = fix(array("i", raw))
    sts = [fix(layout.new_state(nch, 2 * p, 2 * p + 1, cfg[0], 1 if p == 0 else 0))
           for p in range(phases)]
    rings = [fix(layout.new_ring(cfg[0])) for _ in range(phases)]
    stn = fix(layout.new_state(nch, 0, nch - 1, cfg[0]))
    st0 = sts[0]
    st0[layout.CFG_HYST] = cfg[1]
    st0[layout.CFG_MINF] = cfg[2]
    st0[layout.CFG_MAXF] = cfg[3]
    st0[layout.CFG_MINC] = cfg[4]
    for s in sts:
        s[layout.CFG_K] = ks[0]
    snaps = []
    pos = 0
    nwin = 0
    for n in splits:
        block = buf[pos * nch:(pos + n) * nch]
        start = 0
        while start < n:
            end = kern.phase_pass(block, st0, rings[0], start, n)
            for p in range(1, phases):
                kern.phase_pass(block, sts[p], rings[p], start, end)
            kern.rms_pass(block, stn, start, end)
            snaps.append([pos + end] + [list(s) for s in sts] + [list(stn)]
                         + [list(r) for r in rings])
            if st0[layout.ST_CLOSE]:
                nwin += 1
                plain = [int(v) for v in st0]
                st0[layout.CFG_DCB] = layout.total(plain, layout.A_SU) // plain[layout.ST_WPOS]
                for s in sts:
                    s[layout.CFG_K] = ks[nwin % len(ks)]
                    layout.reset_window(s)
                    if fix is not _same:
                        s[:] = fix(s)
                layout.reset_window(stn)
                if fix is not _same:
                    stn[:] = fix(stn)
            start = end
        pos += n
    return snaps
'''

_ns = {}
exec(DRIVER, _ns)
drive = _ns["kernel_drive"]

# ring size, hysteresis, min and max window frames, min cycle frames (the 4 kHz defaults)
CFG_24 = (32, 1 << 17, 780, 1000, 53)
CFG_16 = (32, 1 << 9, 780, 1000, 53)


@pytest.fixture(scope="module")
def viper(mp_worker):
    mp_worker.exec("from measure import kernel\n" + DRIVER)
    return mp_worker


def _splits(n, rng, most=700):
    out = []
    while n > 0:
        b = min(n, rng.randint(1, most))
        out.append(b)
        n -= b
    return out


def _compare(viper, codes, nch, phases, splits, cfg, ks):
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
        f.write(array("i", codes).tobytes())
        path = f.name
    try:
        got = viper.eval("kernel_drive(kernel, open(%r, 'rb').read(), %d, %d, %r, %r, %r)"
                         % (path, nch, phases, splits, cfg, ks))
    finally:
        os.unlink(path)
    want = drive(kernel_ref, array("i", codes).tobytes(), nch, phases, splits, cfg, ks)
    assert len(got) == len(want)
    for n, (g, w) in enumerate(zip(got, want)):
        assert g == w, "snapshot %d differs (frame %d)" % (n, w[0])
    return want


def _signal(phases, bits, f, n, noise=2.0):
    waves = wf.phase_set(phases, 230000, 5000.0, 30.0, ((3, 0.04, 20.0),),
                         ((3, 0.3, 10.0), (5, 0.2, 40.0)))
    peaks = [500000, 200000] * phases + [200000]
    return wf.frames(waves, peaks, f, 4000, bits, n, noise_lsb=noise)


@pytest.mark.parametrize("phases,bits,f", [(1, 24, 50.5), (3, 24, 61.3), (3, 16, 47.2),
                                           (1, 16, 65.0)])
def test_viper_matches_reference_on_mains(viper, phases, bits, f):
    rng = random.Random(phases * 100 + bits)
    n = 6000
    codes = _signal(phases, bits, f, n)
    snaps = _compare(viper, codes, 2 * phases + 1, phases, _splits(n, rng),
                     CFG_24 if bits == 24 else CFG_16, [20, 21, 16, 27])
    closes = [s[1][layout.ST_CLOSE] for s in snaps]
    assert closes.count(layout.CLOSE_CROSSING) >= 6


def test_viper_matches_reference_on_any_words(viper):
    # Words far outside the code range (the kernel folds them) and crossings at every sample.
    rng = random.Random(5)
    n = 3000
    codes = [rng.choice((-(1 << 31), (1 << 31) - 1, 0, rng.randint(-(1 << 31), (1 << 31) - 1)))
             for _ in range(7 * n)]
    _compare(viper, codes, 7, 3, _splits(n, rng, 300), (32, 1000, 100, 400, 3), [1, 30, 7])


def test_viper_matches_reference_without_voltage(viper):
    rng = random.Random(6)
    n = 4500
    codes = _signal(1, 24, 50.0, n, noise=30.0)
    for j in range(n):
        codes[3 * j] = rng.randint(-100, 100)
    snaps = _compare(viper, list(codes), 3, 1, _splits(n, rng), CFG_24, [20])
    ends = [s[0] for s in snaps if s[1][layout.ST_CLOSE]]
    assert ends == [1000, 2000, 3000, 4000]
    assert all(s[1][layout.ST_CLOSE] in (0, layout.CLOSE_TIMEOUT) for s in snaps)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(st.data())
def test_viper_matches_reference_random(viper, data):
    phases = data.draw(st.sampled_from((1, 3)))
    nch = 2 * phases + 1
    n = data.draw(st.integers(1, 400))
    code = st.integers(-(1 << 23), (1 << 23) - 1)
    codes = data.draw(st.lists(code, min_size=nch * n, max_size=nch * n))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, n), max_size=6))) | {n})
    splits = [b - a for a, b in zip([0] + cuts, cuts)]
    cfg = (data.draw(st.sampled_from((32, 64))), data.draw(st.integers(0, 1 << 20)),
           data.draw(st.integers(1, 300)), data.draw(st.integers(300, 700)),
           data.draw(st.integers(0, 60)))
    ks = data.draw(st.lists(st.integers(1, cfg[0] - 2), min_size=1, max_size=4))
    _compare(viper, codes, nch, phases, splits, cfg, ks)


def test_sums_are_exact():
    """The folded partial sums give exactly the integer sums of the signed codes."""
    rng = random.Random(9)
    n, k, nch = 900, 13, 3
    codes = [rng.randint(-(1 << 23), (1 << 23) - 1) for _ in range(nch * n)]
    st_ = layout.new_state(nch, 0, 1, 32)
    st_[layout.CFG_K] = k
    ring = layout.new_ring(32)
    kernel_ref.phase_pass(array("i", codes), st_, ring, 0, n)
    u = codes[0::nch]
    i = codes[1::nch]
    uk = [0] * k + u
    assert layout.sums(st_, n) == (
        sum(u), sum(i), sum(x * x for x in u), sum(x * x for x in i),
        sum(x * y for x, y in zip(u, i)), sum(uk[j] * i[j] for j in range(n)),
        sum(([0] + uk)[j] * i[j] for j in range(n)))


def test_checked_mode_catches_overflow():
    a, b = kernel_ref.checked([1 << 30, 3])
    assert a * 1 + b == (1 << 30) + 3
    with pytest.raises(OverflowError):
        a + a
    with pytest.raises(OverflowError):
        b * a
    with pytest.raises(OverflowError):
        kernel_ref.checked([1 << 31])


def _worst_patterns(bits):
    top = (1 << (bits - 1)) - 1
    low = -(1 << (bits - 1))
    # (U, I) per frame: extremes of every partial product, sign flips, and raw words.
    yield lambda j: (low, low)
    yield lambda j: (top, top)
    yield lambda j: (top, low)
    yield lambda j: (low + 4095, low + 4095)
    yield lambda j: (low, top) if j & 1 else (top, low)
    yield lambda j: (-(1 << 31), (1 << 31) - 1)


@pytest.mark.parametrize("bits", [16, 24])
@pytest.mark.parametrize("phases", [1, 3])
def test_int32_holds_for_worst_case_input(bits, phases):
    """Checked reference: every intermediate fits int32 over the longest window (250 ms at
    8 kHz = 2000 frames, no crossing) for extreme codes, and with crossings at every cycle."""
    nch = 2 * phases + 1
    for pattern in _worst_patterns(bits):
        codes = []
        for j in range(2000):
            u, i = pattern(j)
            codes += [u, i] * phases + [i]
        snaps = drive(kernel_ref, array("i", codes).tobytes(), nch, phases, [700, 1300],
                      (64, 1 << 17, 1600, 2000, 2), [62, 1, 40], kernel_ref.checked)
        assert snaps[-1][0] == 2000


def test_viper_kernel_compiles_for_arm():
    out = os.path.join(tempfile.mkdtemp(), "kernel.mpy")
    src = os.path.join(mpy.FIRMWARE, "measure", "kernel.py")
    mpy_cross = os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross")
    proc = subprocess.run([mpy_cross, "-march=armv7emsp", src, "-o", out], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert os.path.getsize(out) > 1000
