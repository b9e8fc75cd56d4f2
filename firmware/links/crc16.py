"""CRC-16/X.25 (alias CRC-16/IBM-SDLC), the HCS and FCS of HDLC frames (IEC 62056-46).

Reflected polynomial 0x8408, init 0xFFFF, final XOR 0xFFFF; check("123456789") == 0x906E.
On the wire the value goes low byte first. The 256-entry table is built once at import.
Under MicroPython the byte loop is a viper kernel; CPython runs the same table in plain Python.
"""
import sys
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_POLY = const(0x8408)
_INIT = const(0xFFFF)

_TABLE = array("H", bytes(512))


def _build_table():
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        _TABLE[i] = c


_build_table()


def _crc_py(buf, start, end):
    """Reference byte loop (table driven); returns the final CRC value."""
    t = _TABLE
    c = _INIT
    for i in range(start, end):
        c = (c >> 8) ^ t[(c ^ buf[i]) & 0xFF]
    return c ^ 0xFFFF


_crc = _crc_py

if sys.implementation.name == "micropython":
    import micropython

    # Only compiled into a viper kernel under MicroPython; CPython never executes this block.
    @micropython.viper
    def _crc_viper(buf, start: int, end: int) -> int:
        p = ptr8(buf)
        t = ptr16(_TABLE)
        c = 0xFFFF
        i = start
        while i < end:
            c = (c >> 8) ^ t[(c ^ p[i]) & 0xFF]
            i += 1
        return c ^ 0xFFFF

    _crc = _crc_viper


def crc16(buf, start=0, end=None):
    """CRC-16/X.25 of buf[start:end] (any buffer: bytes, bytearray, memoryview); no allocation."""
    if end is None:
        end = len(buf)
    if start < 0 or end > len(buf) or start > end:
        raise ValueError("crc16 range")
    return _crc(buf, start, end)
