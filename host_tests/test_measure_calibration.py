"""Calibration record: encoding, CRC, precise errors on corruption, defaults, micropython."""
import pytest
from hypothesis import given, strategies as st

from measure.calibration import Calibration, CalibrationError, PhaseCal, crc16


def _cal3():
    return Calibration(3, [PhaseCal(1001234, 998765, -1234, 5000, -7000, 120, 3500),
                           PhaseCal(), PhaseCal(u_gain=1500000, phase_mdeg=10000)],
                       in_gain=1020000, in_off_ua=800)


def _fields(cal):
    return [pc.values() for pc in cal.phase], cal.in_gain, cal.in_off_ua


def test_crc16_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_roundtrip_and_size():
    cal = _cal3()
    data = cal.to_bytes()
    assert len(data) == 4 + 4 * (7 * 3 + 2) + 2
    assert _fields(Calibration.from_bytes(data)) == _fields(cal)
    assert len(Calibration(1).to_bytes()) == 4 + 4 * 9 + 2


phase_cal = st.builds(PhaseCal, st.integers(500000, 2000000), st.integers(500000, 2000000),
                      st.integers(-10000, 10000), st.integers(-2 ** 31, 2 ** 31 - 1),
                      st.integers(-2 ** 31, 2 ** 31 - 1), st.integers(0, 2 ** 31 - 1),
                      st.integers(0, 2 ** 31 - 1))


@given(st.sampled_from((1, 3)).flatmap(lambda n: st.lists(phase_cal, min_size=n, max_size=n)))
def test_roundtrip_any_valid_record(phases):
    cal = Calibration(len(phases), phases, 999999, 17)
    assert _fields(Calibration.from_bytes(cal.to_bytes())) == _fields(cal)


def test_every_single_byte_corruption_is_detected():
    data = _cal3().to_bytes()
    for n in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[n] ^= flip
            with pytest.raises(CalibrationError):
                Calibration.from_bytes(bytes(bad))


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d[:5], "too short"),
    (lambda d: b"XX" + d[2:], "bad magic"),
    (lambda d: d[:2] + b"\x02" + d[3:], "unsupported version 2"),
    (lambda d: d[:3] + b"\x02" + d[4:], "phase count 2"),
    (lambda d: d[:-3] + d[-2:], "is 97 bytes, expected 98"),
    (lambda d: d + b"\x00", "is 99 bytes, expected 98"),
    (lambda d: d[:-2] + bytes([d[-2] ^ 1, d[-1]]), "CRC mismatch"),
])
def test_precise_errors(mutate, message):
    with pytest.raises(CalibrationError, match=message):
        Calibration.from_bytes(mutate(_cal3().to_bytes()))


def test_out_of_range_values_are_rejected():
    with pytest.raises(CalibrationError, match="phase 2: phase correction 10001"):
        Calibration(3, [PhaseCal(), PhaseCal(phase_mdeg=10001), PhaseCal()])
    with pytest.raises(CalibrationError, match="gain 0 ppm"):
        Calibration(1, [PhaseCal(i_gain=0)])
    with pytest.raises(CalibrationError, match="negative rms offset"):
        Calibration(1, [PhaseCal(i_off_ua=-1)])
    with pytest.raises(CalibrationError, match="2 phase records for 3 phases"):
        Calibration(3, [PhaseCal(), PhaseCal()])


def test_defaults_when_absent():
    for data in (None, b""):
        cal = Calibration.load(data, 3)
        assert cal.phases == 3 and all(pc.values() == PhaseCal().values() for pc in cal.phase)
    assert _fields(Calibration.load(_cal3().to_bytes(), 3)) == _fields(_cal3())
    with pytest.raises(CalibrationError, match="record is for 3 phases, meter has 1"):
        Calibration.load(_cal3().to_bytes(), 1)


def test_micropython_encodes_and_decodes_the_same_bytes(mp_worker):
    data = _cal3().to_bytes()
    mp_worker.exec("from measure.calibration import Calibration, CalibrationError, PhaseCal")
    got = mp_worker.eval(
        "list(Calibration(3, [PhaseCal(1001234, 998765, -1234, 5000, -7000, 120, 3500), "
        "PhaseCal(), PhaseCal(u_gain=1500000, phase_mdeg=10000)], 1020000, 800).to_bytes())")
    assert bytes(got) == data
    back = mp_worker.eval("[pc.values() for pc in Calibration.from_bytes(bytes(%r)).phase]"
                          % list(data))
    assert [tuple(v) for v in back] == _fields(_cal3())[0]
    bad = list(data[:-1]) + [data[-1] ^ 4]
    mp_worker.exec("try:\n Calibration.from_bytes(bytes(%r))\n cal_msg = ''\n"
                   "except CalibrationError as e:\n cal_msg = str(e)" % bad)
    assert mp_worker.eval("cal_msg").startswith("CRC mismatch")
