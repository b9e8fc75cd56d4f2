"""Calibration record: per-phase gain, phase and offset corrections, stored with version and CRC.

Record (little endian): b"CL", version (u8), phases (u8), per phase 7 x int32
(u_gain, i_gain, phase_mdeg, p_off_uw, q_off_uvar, u_off_uv, i_off_ua), neutral 2 x int32
(in_gain, in_off_ua), CRC-16/CCITT-FALSE (u16) over everything before it.

Gains are in ppm of 1 (1000000 = no correction). phase_mdeg is the lag of the current channel
behind the voltage channel introduced by the sensors, in millidegrees at the fundamental
(positive: the voltage is delayed to match). Offsets are subtracted: p/q from the powers, u/i
rms offsets in quadrature from the rms values (front-end noise).
"""
import struct

_MAGIC = b"CL"
_VERSION = 1
_PHASE_FIELDS = ("u_gain", "i_gain", "phase_mdeg", "p_off_uw", "q_off_uvar", "u_off_uv",
                 "i_off_ua")
_MAX_PHASE_MDEG = 10000
_GAIN_RANGE = (500000, 2000000)


class CalibrationError(ValueError):
    """The calibration record is malformed, corrupted or out of range."""


class PhaseCal:
    """Corrections of one phase (defaults: none)."""

    def __init__(self, u_gain=1000000, i_gain=1000000, phase_mdeg=0, p_off_uw=0, q_off_uvar=0,
                 u_off_uv=0, i_off_ua=0):
        self.u_gain = u_gain
        self.i_gain = i_gain
        self.phase_mdeg = phase_mdeg
        self.p_off_uw = p_off_uw
        self.q_off_uvar = q_off_uvar
        self.u_off_uv = u_off_uv
        self.i_off_ua = i_off_ua

    def values(self):
        return tuple(getattr(self, f) for f in _PHASE_FIELDS)


class Calibration:
    """Calibration of a meter with `phases` phases and a neutral current channel."""

    def __init__(self, phases, phase=None, in_gain=1000000, in_off_ua=0):
        if phases not in (1, 3):
            raise CalibrationError("phase count %d is not 1 or 3" % phases)
        self.phases = phases
        self.phase = list(phase) if phase is not None else [PhaseCal() for _ in range(phases)]
        if len(self.phase) != phases:
            raise CalibrationError("%d phase records for %d phases" % (len(self.phase), phases))
        self.in_gain = in_gain
        self.in_off_ua = in_off_ua
        self.check()

    def check(self):
        """Raise CalibrationError if a value is outside its plausible range."""
        gains = [self.in_gain]
        for n, pc in enumerate(self.phase):
            gains += (pc.u_gain, pc.i_gain)
            if not -_MAX_PHASE_MDEG <= pc.phase_mdeg <= _MAX_PHASE_MDEG:
                raise CalibrationError("phase %d: phase correction %d mdeg out of range"
                                       % (n + 1, pc.phase_mdeg))
            if pc.u_off_uv < 0 or pc.i_off_ua < 0:
                raise CalibrationError("phase %d: negative rms offset" % (n + 1))
        for g in gains:
            if not _GAIN_RANGE[0] <= g <= _GAIN_RANGE[1]:
                raise CalibrationError("gain %d ppm out of range" % g)
        if self.in_off_ua < 0:
            raise CalibrationError("negative neutral rms offset")

    def to_bytes(self):
        """Encode the record (with its CRC)."""
        vals = []
        for pc in self.phase:
            vals += pc.values()
        body = struct.pack(_fmt(self.phases), _MAGIC, _VERSION, self.phases, *vals,
                           self.in_gain, self.in_off_ua)
        return body + struct.pack("<H", crc16(body))

    @classmethod
    def from_bytes(cls, data):
        """Decode a record; raise CalibrationError saying what is wrong with it."""
        data = bytes(data)
        if len(data) < 6:
            raise CalibrationError("record too short (%d bytes)" % len(data))
        if data[:2] != _MAGIC:
            raise CalibrationError("bad magic %r" % (data[:2],))
        if data[2] != _VERSION:
            raise CalibrationError("unsupported version %d" % data[2])
        phases = data[3]
        if phases not in (1, 3):
            raise CalibrationError("phase count %d is not 1 or 3" % phases)
        size = struct.calcsize(_fmt(phases)) + 2
        if len(data) != size:
            raise CalibrationError("record is %d bytes, expected %d" % (len(data), size))
        stored = struct.unpack("<H", data[-2:])[0]
        crc = crc16(data[:-2])
        if stored != crc:
            raise CalibrationError("CRC mismatch (stored 0x%04x, computed 0x%04x)" % (stored, crc))
        vals = struct.unpack(_fmt(phases), data[:-2])[3:]
        nf = len(_PHASE_FIELDS)
        phase = [PhaseCal(*vals[n * nf:(n + 1) * nf]) for n in range(phases)]
        return cls(phases, phase, vals[-2], vals[-1])

    @classmethod
    def load(cls, data, phases):
        """The record in `data`, or the defaults when there is none (None or empty)."""
        if not data:
            return cls(phases)
        cal = cls.from_bytes(data)
        if cal.phases != phases:
            raise CalibrationError("record is for %d phases, meter has %d" % (cal.phases, phases))
        return cal


def _fmt(phases):
    return "<2sBB" + "i" * (len(_PHASE_FIELDS) * phases + 2)


def crc16(data):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); check value of b"123456789" is 0x29B1."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc
