"""COSEM wrapper (IEC 62056-47) for TCP port 4059, sans-IO.

Each WPDU is an 8-octet header ``version(2)=0x0001 | source wPort(2) | destination wPort(2) |
length(2)`` followed by `length` octets of xDLMS APDU. No LLC bytes, no SNRM: the association
starts with the AARQ. `Reassembler` cuts a TCP byte stream into WPDUs.
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

VERSION = const(0x0001)
HEADER_SIZE = const(8)
_HEADER = ">HHHH"


class WrapperError(ValueError):
    """The byte stream is not a valid WPDU sequence; the connection must be closed."""


class VersionError(WrapperError):
    """A header carries a version other than 0x0001."""


class LengthError(WrapperError):
    """A header announces an APDU of length 0 or longer than the configured maximum."""


def encode_header_into(buf, pos, source, destination, length):
    """Write a WPDU header at buf[pos]; return the position after it."""
    for v in (source, destination, length):
        if not 0 <= v <= 0xFFFF:
            raise ValueError("wrapper field out of range")
    struct.pack_into(_HEADER, buf, pos, VERSION, source, destination, length)
    return pos + HEADER_SIZE


def encode(source, destination, apdu):
    """One WPDU (header + apdu) as bytes."""
    n = len(apdu)
    # Checked in one expression: this runs for every answer.
    if not (0 <= source <= 0xFFFF and 0 <= destination <= 0xFFFF and n <= 0xFFFF):
        raise ValueError("wrapper field out of range")
    return struct.pack(_HEADER, VERSION, source, destination, n) + apdu


class Reassembler:
    """Cuts a received byte stream into WPDUs, whatever the read boundaries.

    max_length: largest APDU accepted (the server's max receive PDU plus ciphering overhead).
    After a WrapperError the stream is out of step: every later feed raises it again until reset().
    """

    def __init__(self, max_length=2048):
        if not 1 <= max_length <= 0xFFFF:
            raise ValueError("max_length must be 1..65535")
        self.max_length = max_length
        self._head = bytearray(HEADER_SIZE)
        self._body = bytearray(max_length)
        self._bodymv = memoryview(self._body)
        self.reset()

    def reset(self):
        """Forget any partial WPDU and any error (for a new connection)."""
        self._hn = 0
        self._bn = 0
        self._need = -1         # APDU length of the WPDU being received, -1 while in the header
        self._src = self._dst = 0
        self._error = None

    @property
    def pending(self):
        """Octets of an incomplete WPDU held (non-zero when a connection closes mid-PDU)."""
        return self._hn + self._bn

    def feed(self, data):
        """Process received octets; return a list of (source wPort, destination wPort, apdu bytes)."""
        if self._error is not None:
            raise self._error
        out = []
        mv = memoryview(data)
        k, n = 0, len(data)
        while k < n:
            if self._need < 0:
                if self._hn == 0 and n - k >= HEADER_SIZE:
                    # The whole header is in this chunk (the usual case): read it in place.
                    self._header(data, k)
                    self._hn = HEADER_SIZE
                    k += HEADER_SIZE
                    continue
                m = min(HEADER_SIZE - self._hn, n - k)
                self._head[self._hn:self._hn + m] = mv[k:k + m]
                self._hn += m
                k += m
                if self._hn == HEADER_SIZE:
                    self._header(self._head, 0)
                continue
            need = self._need
            if self._bn == 0 and n - k >= need:
                # The whole APDU is in this chunk: one copy, no staging in the body buffer.
                apdu = bytes(mv[k:k + need])
                k += need
            else:
                m = min(need - self._bn, n - k)
                self._bodymv[self._bn:self._bn + m] = mv[k:k + m]
                self._bn += m
                k += m
                if self._bn < need:
                    continue
                apdu = bytes(self._bodymv[:need])
            out.append((self._src, self._dst, apdu))
            self._hn = self._bn = 0
            self._need = -1
        return out

    def _header(self, buf, pos):
        version, self._src, self._dst, length = struct.unpack_from(_HEADER, buf, pos)
        if version != VERSION:
            self._error = VersionError("wrapper version", version)
        elif length == 0 or length > self.max_length:
            self._error = LengthError("wrapper length", length)
        else:
            self._need = length
            return
        raise self._error
