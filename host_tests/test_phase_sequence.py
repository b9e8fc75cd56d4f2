"""Phase sequence of the MT382 metrology (measure.metrology): the sign of the quarter-period
cross sum of U1 and U2, checked on one window every _SEQ_EVERY."""
import pytest

import waveform as wf
from measure import metrology as mt
from measure.metrology import Metrology
from measure.rating import I_PEAK_MA, U_PEAK_MV, for_model

FS = 4000


def sequences(u2_deg, u3_deg, u_mv=(230000, 230000, 230000), f=50.0, secs=6.0):
    r = for_model("mt382")
    waves = wf.phase_set(3, 230000, 5000, 20.0)
    waves[0] = wf.Wave(u_mv[0], 0.0)
    waves[2] = wf.Wave(u_mv[1], u2_deg)
    waves[4] = wf.Wave(u_mv[2], u3_deg)
    peaks = [U_PEAK_MV, I_PEAK_MA] * 3 + [I_PEAK_MA]
    m = Metrology(r, FS, 24, U_PEAK_MV, I_PEAK_MA)
    recs, _, _, _ = wf.run(m, waves, peaks, f, 24, secs, 64.0)
    return [rec["sequence"] for rec in recs]


@pytest.mark.parametrize("f", [47.5, 50.0, 52.5])
def test_normal_sequence(f):
    seq = sequences(-120.0, 120.0, f=f)
    assert seq[0] == 1 and set(seq) == {1}


@pytest.mark.parametrize("f", [47.5, 50.0, 52.5])
def test_reversed_sequence(f):
    seq = sequences(120.0, -120.0, f=f)
    assert seq[0] == -1 and set(seq) == {-1}


def test_missing_u2_is_unknown():
    assert set(sequences(-120.0, 120.0, u_mv=(230000, 0, 230000))) == {0}


def test_reversal_seen_at_the_next_check():
    r = for_model("mt382")
    peaks = [U_PEAK_MV, I_PEAK_MA] * 3 + [I_PEAK_MA]
    m = Metrology(r, FS, 24, U_PEAK_MV, I_PEAK_MA)
    normal = wf.phase_set(3, 230000, 5000, 0.0)
    reverse = wf.phase_set(3, 230000, 5000, 0.0)
    reverse[2], reverse[4] = wf.Wave(230000, 120.0), wf.Wave(230000, -120.0)
    n = 3 * FS
    codes = (wf.frames(normal, peaks, 50.0, FS, 24, n) +
             wf.frames(reverse, peaks, 50.0, FS, 24, 2 * n, start=n))
    recs = wf.feed(m, codes, len(peaks), FS)
    seq = [rec["sequence"] for rec in recs]
    switch = sum(1 for rec in recs if rec["t_us"] <= 3000000)
    assert set(seq[:switch]) == {1}
    flip = seq.index(-1)
    assert switch <= flip <= switch + mt._SEQ_EVERY + 1
    assert set(seq[flip:]) == {-1}


def test_single_phase_has_no_sequence():
    r = for_model("me382")
    m = Metrology(r, FS, 24, U_PEAK_MV, I_PEAK_MA)
    recs, _, _, _ = wf.run(m, wf.phase_set(1, 230000, 5000, 0.0),
                           [U_PEAK_MV, I_PEAK_MA, I_PEAK_MA], 50.0, 24, 1.0, 64.0)
    assert {rec["sequence"] for rec in recs} == {0}
