"""IEC 62056-21 mode E opening on the optical port, sans-IO: from `/?!` to HDLC.

The port starts at 300 Bd 7E1. The meter answers a request ``/?[address]!`` CR LF with its
identification ``/XXXZ\\2<ident>`` CR LF; an acknowledgement ``ACK 2 Z 2`` CR LF selects the HDLC
protocol at baud rate Z (8N1 from then on). A frame opening flag 0x7E received instead of a
request means the client speaks HDLC directly at the current speed.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_ACK = const(0x06)
_CR = const(0x0D)
_LF = const(0x0A)
_SLASH = const(0x2F)
_FLAG = const(0x7E)
_HDLC = const(0x32)          # '2': protocol control V (HDLC procedure) and mode control Y (binary)
_MAX_REQUEST = const(36)     # "/?" + 32 address characters + "!" CR LF

_IDLE = const(0)
_REQUEST = const(1)          # collecting the request line
_IDENTIFIED = const(2)       # identification sent, waiting for the acknowledgement
_OPTION = const(3)           # collecting the acknowledgement line

BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200)   # baud characters '0'..'6' (modes C, E)


def baud_char(baud):
    """Baud rate identification character (mode C/E) for a bit rate."""
    if baud not in BAUD_RATES:
        raise ValueError("no mode C/E baud character for this rate")
    return 0x30 + BAUD_RATES.index(baud)


def identification(ident, manufacturer=b"ISk", max_baud=9600):
    """Identification message: / + manufacturer + Z + \\2 (HDLC supported) + ident + CR LF."""
    ident, manufacturer = _octets(ident), _octets(manufacturer)
    if len(manufacturer) != 3 or not 1 <= len(ident) <= 16:
        raise ValueError("manufacturer is 3 characters, ident 1..16")
    for c in ident:
        if c < 0x21 or c > 0x7E or c == _SLASH or c == 0x21:
            raise ValueError("ident must be printable, without / or !")
    return b"/" + manufacturer + bytes((baud_char(max_baud),)) + b"\\2" + ident + b"\r\n"


class ModeEOpening:
    """Meter side of the mode E opening.

    ident: identification text, e.g. b"ME382-1003"; address: device address that requests may
    carry (bytes, leading zeros ignored), None to answer only requests without an address.
    """

    def __init__(self, ident, manufacturer=b"ISk", max_baud=9600, address=None):
        self._ident = identification(ident, manufacturer, max_baud)
        self._max_char = baud_char(max_baud)
        self._address = None if address is None else _strip_zeros(_octets(address))
        self._line = bytearray(_MAX_REQUEST)
        self.reset()

    def reset(self):
        """Start again from the idle state (300 Bd, waiting for a request)."""
        self._state = _IDLE
        self._n = 0

    def feed(self, data):
        """Process received octets; return (reply, switch).

        reply: octets to transmit now (b"" if none). switch: None while the opening goes on, else
        (baud, rest) when HDLC starts: the new bit rate (None = keep the current one) and the
        received octets that already belong to HDLC.
        """
        reply = b""
        for i in range(len(data)):
            raw = data[i]
            c = raw & 0x7F          # a 7E1 character read by an 8-bit receiver keeps its parity bit
            state = self._state
            if state == _IDENTIFIED:
                if c == _ACK:
                    self._state = _OPTION
                    self._n = 0
                    continue
                self._state = state = _IDLE
            if state == _IDLE:
                if raw == _FLAG:
                    return reply, (None, bytes(data[i:]))
                if c == _SLASH:
                    self._start_request()
                continue
            if c == _SLASH:             # a new request interrupts any line
                self._start_request()
                continue
            if self._n >= len(self._line):
                self.reset()
                continue
            self._line[self._n] = c
            self._n += 1
            if c != _LF:
                continue
            if state == _REQUEST:
                if self._request_ok():
                    reply = self._ident
                    self._state = _IDENTIFIED
                else:
                    self.reset()
            else:
                baud = self._option()
                self.reset()
                if baud:
                    return reply, (baud, bytes(data[i + 1:]))
        return reply, None

    def _start_request(self):
        self._state = _REQUEST
        self._n = 0

    def _request_ok(self):
        """The collected line (after '/') is ?[address]! CR LF addressed to this meter."""
        line, n = self._line, self._n
        if n < 4 or line[0] != 0x3F or line[n - 3] != 0x21 or line[n - 2] != _CR:
            return False
        address = bytes(line[1:n - 3])
        if not address:
            return True
        return self._address is not None and _strip_zeros(address) == self._address

    def _option(self):
        """Bit rate selected by the collected acknowledgement V Z Y CR LF, or 0 if not mode E."""
        line = self._line
        if (self._n != 5 or line[0] != _HDLC or line[2] != _HDLC or line[3] != _CR
                or not 0x30 <= line[1] <= self._max_char):
            return 0
        return BAUD_RATES[line[1] - 0x30]


def _octets(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def _strip_zeros(address):
    k = 0
    while k < len(address) - 1 and address[k] == 0x30:
        k += 1
    return address[k:]
