"""HDLC frame format type 3 (IEC 62056-46) and the server side of the data link, sans-IO.

Frames: ``7E | FMT(2) | DEST(1,2,4) | SRC(1) | CTRL | [HCS(2) INFO] | FCS(2) | 7E``, no byte
stuffing; receivers delimit frames by the FMT length (a 0x7E may occur anywhere inside).

`HdlcServer` is the secondary station of one physical port: `feed(bytes)` and `tick(now_ms)` return
``(frames, apdus, reset)``; the upper layer answers each delivered APDU with `send(apdu)`.
Window size is 1 in both directions. See docs/protocol.md for the rules it follows.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

try:
    from time import ticks_diff
except ImportError:
    def ticks_diff(new, old):
        return new - old

from links.crc16 import crc16

_FLAG = const(0x7E)
_FMT_TYPE3 = const(0xA0)
_FMT_SEGMENTED = const(0x08)
_MIN_FRAME_LEN = const(7)       # FMT + DEST + SRC + CTRL + FCS
_OVERHEAD = const(14)           # flags, FMT, 4-octet DEST, SRC, CTRL, HCS, FCS

PF = const(0x10)
I_FRAME = const(0x00)           # N(R)<<5 | P | N(S)<<1
RR = const(0x01)                # N(R)<<5 | P | RR
RNR = const(0x05)
SNRM = const(0x83)
DISC = const(0x43)
UA = const(0x63)
DM = const(0x0F)
FRMR = const(0x87)
UI = const(0x03)

# FRMR reason bits (third octet of the FRMR information field)
FRMR_W = const(0x01)            # control field invalid or not implemented
FRMR_X = const(0x02)            # information field not permitted
FRMR_Y = const(0x04)            # information field too long
FRMR_Z = const(0x08)            # invalid N(R)

_PARAM_TX = const(0x05)         # parameter ids of the SNRM/UA information field
_PARAM_RX = const(0x06)
_PARAM_WIN_TX = const(0x07)
_PARAM_WIN_RX = const(0x08)
_DEFAULT_INFO = const(128)
_MIN_INFO = const(32)
_MAX_INFO = const(2030)

_NDM = const(0)                 # disconnected
_NRM = const(1)                 # connected (normal response mode)
_REJECT = const(2)              # frame-reject condition: only SNRM or DISC recover

LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"


class FrameError(ValueError):
    """A byte string that is not one valid HDLC frame (decode_frame)."""


class HdlcStateError(Exception):
    """`send` called when the link has no request to answer."""


# ---------------------------------------------------------------- addresses

def client_address(sap):
    """One-octet client address for a client SAP (0..127)."""
    if not 0 <= sap <= 0x7F:
        raise ValueError("client SAP out of range")
    return bytes(((sap << 1) | 1,))


def server_address(upper, lower=None, size=None):
    """Server address octets: upper (logical device) and optional lower (physical) address.

    size 1, 2 or 4; by default 1 without a lower address, else 2 if both fit 7 bits, else 4.
    """
    if size is None:
        size = 1 if lower is None else (2 if upper < 0x80 and lower < 0x80 else 4)
    if size == 1 and lower is None and 0 <= upper < 0x80:
        return bytes(((upper << 1) | 1,))
    if lower is None or lower < 0:
        raise ValueError("lower address required")
    if size == 2 and 0 <= upper < 0x80 and lower < 0x80:
        return bytes((upper << 1, (lower << 1) | 1))
    if size == 4 and 0 <= upper < 0x4000 and lower < 0x4000:
        return bytes(((upper >> 7) << 1, (upper & 0x7F) << 1,
                      (lower >> 7) << 1, ((lower & 0x7F) << 1) | 1))
    raise ValueError("address does not fit")


def decode_address(addr):
    """(upper, lower) of 1, 2 or 4 address octets; lower is None for a 1-octet address."""
    n = len(addr)
    if n == 1:
        return addr[0] >> 1, None
    if n == 2:
        return addr[0] >> 1, addr[1] >> 1
    if n == 4:
        return ((addr[0] >> 1) << 7) | (addr[1] >> 1), ((addr[2] >> 1) << 7) | (addr[3] >> 1)
    raise ValueError("address must be 1, 2 or 4 octets")


# ---------------------------------------------------------------- frames

class Frame:
    """A decoded frame: dest and src address octets, control octet, info bytes, segmented flag."""

    def __init__(self, dest, src, control, info=b"", segmented=False):
        self.dest = dest
        self.src = src
        self.control = control
        self.info = info
        self.segmented = segmented


def _address_end(b, p):
    """Index after the 1, 2 or 4-octet address at b[p] (extension bit), or -1 if malformed."""
    for k in range(4):
        if b[p + k] & 1:
            return -1 if k == 2 else p + k + 1
    return -1


def _parse(b, i, last):
    """Check the frame b[i..last] (flags included) and locate its parts.

    Returns (dest start, src start, control position, info start, info end), or None when the
    frame is invalid: bad address extension bits, bad layout, bad HCS or FCS. The caller checked
    both flags and the FMT length, so the frame holds at least 7 octets between its flags.
    """
    d0 = i + 3
    s0 = _address_end(b, d0)
    if s0 < 0 or s0 > last - 4:
        return None
    c = _address_end(b, s0)
    if c < 0 or c > last - 3:
        return None
    rest = last - c - 1             # octets between CTRL and the closing flag
    if rest == 2:
        s = e = c + 1
    elif rest >= 5:
        if crc16(b, i + 1, c + 1) != b[c + 1] | (b[c + 2] << 8):
            return None
        s, e = c + 3, last - 2
    else:
        return None
    if crc16(b, i + 1, last - 2) != b[last - 2] | (b[last - 1] << 8):
        return None
    return d0, s0, c, s, e


def decode_frame(frame):
    """Decode one complete frame (both flags included); raise FrameError if it is not valid."""
    n = len(frame)
    if n < _MIN_FRAME_LEN + 2 or frame[0] != _FLAG or frame[n - 1] != _FLAG:
        raise FrameError("missing flags or too short")
    if frame[1] & 0xF0 != _FMT_TYPE3 or ((frame[1] & 7) << 8 | frame[2]) != n - 2:
        raise FrameError("bad format field")
    parts = _parse(frame, 0, n - 1)
    if parts is None:
        raise FrameError("bad address, layout or check sequence")
    d0, s0, c, s, e = parts
    return Frame(bytes(frame[d0:s0]), bytes(frame[s0:c]), frame[c], bytes(frame[s:e]),
                 bool(frame[1] & _FMT_SEGMENTED))


def encode_frame_into(buf, dest, src, control, info=b"", start=0, end=None, segmented=False,
                      prefix=b""):
    """Write one frame into buf (prefix + info[start:end] as the information field); return its size."""
    if end is None:
        end = len(info)
    ilen = len(prefix) + end - start
    h = 3 + len(dest) + len(src)    # position of CTRL
    size = h + 1 + 2 + (ilen + 2 if ilen else 0) + 1
    length = size - 2
    if length > 0x7FF or size > len(buf):
        raise ValueError("frame too long")
    buf[0] = _FLAG
    buf[1] = _FMT_TYPE3 | (_FMT_SEGMENTED if segmented else 0) | (length >> 8)
    buf[2] = length & 0xFF
    buf[3:3 + len(dest)] = dest
    buf[3 + len(dest):h] = src
    buf[h] = control
    p = h + 1
    if ilen:
        c = crc16(buf, 1, p)
        buf[p] = c & 0xFF
        buf[p + 1] = c >> 8
        p += 2
        if prefix:
            buf[p:p + len(prefix)] = prefix
            p += len(prefix)
        buf[p:p + end - start] = memoryview(info)[start:end]
        p += end - start
    c = crc16(buf, 1, p)
    buf[p] = c & 0xFF
    buf[p + 1] = c >> 8
    buf[p + 2] = _FLAG
    return size


def encode_frame(dest, src, control, info=b"", segmented=False):
    """One frame as bytes (dest and src are address octets, e.g. from server_address)."""
    buf = bytearray(_OVERHEAD + len(info))
    return bytes(buf[:encode_frame_into(buf, dest, src, control, info, segmented=segmented)])


def ui_frames(apdu, dest, src, max_info=_DEFAULT_INFO):
    """UI frames carrying one server APDU (LLC E6 E7 00 first), segmented to max_info (push)."""
    if max_info < _MIN_INFO:
        raise ValueError("max_info too small")
    buf = bytearray(_OVERHEAD + max_info)
    out = []
    pos, n, prefix = 0, len(apdu), LLC_RESPONSE
    while True:
        k = min(n - pos, max_info - len(prefix))
        more = pos + k < n
        size = encode_frame_into(buf, dest, src, UI | PF, apdu, pos, pos + k, more, prefix)
        out.append(bytes(buf[:size]))
        pos += k
        prefix = b""
        if not more:
            return out


# ---------------------------------------------------------------- server link

class HdlcServer:
    """Server (secondary station) side of an HDLC link on one physical port.

    logical_devices: upper addresses served (SAPs); physical: lower address, or None to accept any;
    max_info_tx / max_info_rx: the largest information fields offered in the UA (32..2030);
    max_apdu: reassembly limit for segmented requests; inactivity_ms: link timeout (0 = none);
    inter_octet_ms: a partial frame older than this is resynchronised at the next tick.
    """

    def __init__(self, logical_devices=(1,), physical=None, max_info_tx=_DEFAULT_INFO,
                 max_info_rx=_DEFAULT_INFO, max_apdu=2048, inactivity_ms=120000,
                 inter_octet_ms=25):
        for v in (max_info_tx, max_info_rx):
            if not _MIN_INFO <= v <= _MAX_INFO:
                raise ValueError("max info field must be 32..2030")
        self.logical_devices = tuple(logical_devices)
        self.physical = physical
        self.max_info_tx = max_info_tx
        self.max_info_rx = max_info_rx
        self.inactivity_ms = inactivity_ms
        self.inter_octet_ms = inter_octet_ms
        self._rx = bytearray(max_info_rx + _OVERHEAD)
        self._rxmv = memoryview(self._rx)
        self._rxn = 0
        self._tx = bytearray(max_info_tx + _OVERHEAD)
        self._apdu = bytearray(max_apdu)
        self._apdumv = memoryview(self._apdu)
        self._rx_seen = False
        self._rx_t = None
        self._active = False
        self._act_t = None
        self._frames = []
        self._apdus = []
        self._reset = False
        self._disconnect()

    # -- public API

    @property
    def connected(self):
        """True while the link is established (normal response mode or frame-reject)."""
        return self._state != _NDM

    def feed(self, data):
        """Process received octets; return (frames to transmit, complete APDUs, link reset)."""
        self._begin()
        if data:
            self._rx_seen = True
        mv = memoryview(data)
        k, n, size = 0, len(data), len(self._rx)
        while k < n:
            m = min(size - self._rxn, n - k)
            self._rxmv[self._rxn:self._rxn + m] = mv[k:k + m]
            self._rxn += m
            k += m
            self._compact(self._scan(0))
        return self._frames, self._apdus, self._reset

    def tick(self, now_ms):
        """Advance time (ticks_ms values); resynchronise stale input, apply the inactivity timeout."""
        self._begin()
        if self._rx_seen or self._rx_t is None:
            self._rx_t = now_ms
            self._rx_seen = False
        elif self._rxn > 1 and ticks_diff(now_ms, self._rx_t) >= self.inter_octet_ms:
            # No octet came for a while: drop each incomplete candidate frame, keep complete ones.
            i = self._scan(0)
            while self._rxn - i > 1:
                i = self._scan(i + 1)
            self._compact(i)
        if self._state == _NDM:
            self._act_t = None
        elif self._active or self._act_t is None:
            self._act_t = now_ms
            self._active = False
        elif self.inactivity_ms and ticks_diff(now_ms, self._act_t) >= self.inactivity_ms:
            self._disconnect()
            self._link_reset()
        return self._frames, self._apdus, self._reset

    def send(self, apdu):
        """Queue the response to the last delivered APDU; return the frames to transmit now."""
        if self._state != _NRM or not self._await:
            raise HdlcStateError("no request to answer")
        self._await = False
        self._frames = []
        self._out = memoryview(apdu)
        self._out_pos = 0
        self._out_first = True
        if self._poll:
            self._next_segment()
        return self._frames

    # -- receive framing

    def _begin(self):
        self._frames = []
        self._apdus = []
        self._reset = False

    def _compact(self, i):
        if i:
            keep = self._rxn - i
            if keep:
                self._rxmv[0:keep] = self._rxmv[i:self._rxn]
            self._rxn = keep

    def _scan(self, i):
        """Handle every complete frame from rx[i]; return the index of the first unused octet."""
        b, n = self._rx, self._rxn
        while True:
            i = b.find(b"\x7e", i, n)
            if i < 0:
                return n
            if n - i < 3:
                return i
            f = b[i + 1]
            length = ((f & 7) << 8) | b[i + 2]
            if f & 0xF0 != _FMT_TYPE3 or length < _MIN_FRAME_LEN or length + 2 > len(b):
                i += 1
                continue
            last = i + length + 1
            if last >= n:
                return i
            if b[last] != _FLAG:
                i += 1
                continue
            parts = _parse(b, i, last)
            if parts is None:
                i += 1
                continue
            self._on_frame(b, i, parts)
            i = last                # the closing flag may open the next frame

    # -- frame handling

    def _on_frame(self, b, i, parts):
        d0, p, c, s, e = parts
        if c != p + 1 or not self._ours(b, d0, p - d0):
            return
        client = b[p] >> 1
        if client == 0 or client == 0x7F:
            return
        ctrl = b[c]
        ilen = e - s
        same = (self._state != _NDM and b[p] == self._client_octet
                and self._my_addr == bytes(b[d0:p]))
        if ctrl & 0xEF == SNRM:
            self._snrm(b, d0, p, s, e)
            return
        if not same:
            if self._state == _NDM:
                self._peer = bytes(b[d0:p]), bytes(b[p:p + 1])
                self._emit(DM | PF)
            return
        self._active = True
        if ctrl & 0xEF == DISC:
            # The UA repeats the link parameters: some clients cannot parse a UA without them.
            self._emit(UA | PF, self._ua_info())
            self._disconnect()
            self._link_reset()
        elif self._state == _REJECT:
            self._emit_frmr()
        elif not ctrl & 1:
            self._on_i(ctrl, b, s, e, bool(b[i + 1] & _FMT_SEGMENTED))
        elif ctrl & 0x0F == RR or ctrl & 0x0F == RNR:
            if ilen:
                self._reject(ctrl, FRMR_W | FRMR_X)
            else:
                self._on_rr(ctrl)
        else:
            self._reject(ctrl, FRMR_W)

    def _ours(self, b, d0, dlen):
        if dlen == 1:
            upper, lower = b[d0] >> 1, None
        elif dlen == 2:
            upper, lower = b[d0] >> 1, b[d0 + 1] >> 1
        else:
            upper = ((b[d0] >> 1) << 7) | (b[d0 + 1] >> 1)
            lower = ((b[d0 + 2] >> 1) << 7) | (b[d0 + 3] >> 1)
        if upper not in self.logical_devices:
            return False
        return lower is None or self.physical is None or lower == self.physical

    def _snrm(self, b, d0, p, s, e):
        was = self._state != _NDM
        self._disconnect()
        self._peer = bytes(b[d0:p]), bytes(b[p:p + 1])
        params = self._negotiate(b, s, e)
        if params is None:
            self._emit(DM | PF)
        else:
            self._state = _NRM
            self._my_addr, self._client_octet = self._peer[0], b[p]
            self.client = b[p] >> 1
            self.logical_device, self.physical_address = decode_address(self._peer[0])
            self.tx_max, self.rx_max = params
            self._active = True
            self._emit(UA | PF, self._ua_info())
            self._last = None       # only answers to I-frames are repeated
        if was or params is not None:
            self._link_reset()

    def _negotiate(self, b, s, e):
        """(server tx max, server rx max) from the SNRM parameters, or None if unacceptable."""
        client_tx = client_rx = _DEFAULT_INFO
        if e > s:
            if e - s < 3 or b[s] != 0x81 or b[s + 1] != 0x80 or b[s + 2] != e - s - 3:
                return None
            q = s + 3
            while q < e:
                if e - q < 2:
                    return None
                pid, plen = b[q], b[q + 1]
                q += 2
                if plen > 4 or e - q < plen:
                    return None
                v = 0
                for k in range(plen):
                    v = (v << 8) | b[q + k]
                q += plen
                if pid == _PARAM_TX:
                    client_tx = v
                elif pid == _PARAM_RX:
                    client_rx = v
                elif (pid == _PARAM_WIN_TX or pid == _PARAM_WIN_RX) and v < 1:
                    return None
        if client_tx < _MIN_INFO or client_rx < _MIN_INFO:
            return None
        return min(client_rx, self.max_info_tx), min(client_tx, self.max_info_rx)

    def _ua_info(self):
        info = bytearray(b"\x81\x80\x00")
        for pid, v in ((_PARAM_TX, self.tx_max), (_PARAM_RX, self.rx_max)):
            if v < 0x100:
                info += bytes((pid, 1, v))
            else:
                info += bytes((pid, 2, v >> 8, v & 0xFF))
        info += b"\x07\x04\x00\x00\x00\x01\x08\x04\x00\x00\x00\x01"
        info[2] = len(info) - 3
        return info

    def _on_i(self, ctrl, b, s, e, segmented):
        ns, nr = (ctrl >> 1) & 7, ctrl >> 5
        if s == e:
            self._reject(ctrl, FRMR_W)
            return
        if e - s > self.rx_max:
            self._reject(ctrl, FRMR_Y)
            return
        if not self._nr_valid(nr):
            self._reject(ctrl, FRMR_Z)
            return
        if ns != self._vr:
            # A repeat of the previous frame means our answer was lost: send it again.
            if ns == (self._vr - 1) & 7 and self._last is not None and not self._await:
                self._frames.append(self._last)
            elif not self._await:
                self._emit(RR | PF | (self._vr << 5))
            return
        n = self._apdun
        if n == 0:
            if e - s < 3 or b[s] != 0xE6 or b[s + 1] != 0xE6 or b[s + 2] != 0x00:
                self._accept(nr)    # a valid frame for the link, but no APDU: discarded
                self._emit(RR | PF | (self._vr << 5))
                return
            s += 3
        if n + e - s > len(self._apdu):
            self._apdun = 0
            self._reject(ctrl, FRMR_Y)
            return
        self._accept(nr)
        self._apdumv[n:n + e - s] = self._rxmv[s:e]
        self._apdun = n + e - s
        if segmented:
            self._emit(RR | PF | (self._vr << 5))
            return
        self._apdus.append(bytes(self._apdumv[:self._apdun]))
        self._apdun = 0
        self._await = True
        self._poll = True

    def _accept(self, nr):
        """Take an in-sequence I-frame: N(R) acknowledges our last I-frame, or says it never
        arrived; then that answer is abandoned and its sequence number is used again."""
        self._vs = nr
        self._outstanding = False
        self._vr = (self._vr + 1) & 7
        self._out = None

    def _on_rr(self, ctrl):
        nr = ctrl >> 5
        if not self._nr_valid(nr):
            self._reject(ctrl, FRMR_Z)
            return
        busy = ctrl & 0x0F == RNR
        if self._outstanding and nr != self._vs:
            if busy:
                self._emit(RR | PF | (self._vr << 5))
            else:
                self._frames.append(self._last_i)
                self._last = self._last_i
            return
        self._outstanding = False
        self._poll = True
        if not busy and self._out is not None:
            self._next_segment()
        else:
            self._emit(RR | PF | (self._vr << 5))

    def _nr_valid(self, nr):
        return nr == self._vs or (self._outstanding and nr == (self._vs - 1) & 7)

    # -- transmit

    def _next_segment(self):
        """Send the next I-frame of the pending answer (the client polls for each segment)."""
        out, pos = self._out, self._out_pos
        prefix = LLC_RESPONSE if self._out_first else b""
        k = min(len(out) - pos, self.tx_max - len(prefix))
        more = pos + k < len(out)
        ctrl = I_FRAME | PF | (self._vr << 5) | (self._vs << 1)
        size = encode_frame_into(self._tx, self._peer[1], self._peer[0], ctrl, out, pos, pos + k,
                                 more, prefix)
        frame = bytes(self._tx[:size])
        self._vs = (self._vs + 1) & 7
        self._outstanding = True
        self._poll = False
        self._out_first = False
        self._out_pos = pos + k
        if not more:
            self._out = None
        self._last = self._last_i = frame
        self._frames.append(frame)

    def _emit(self, ctrl, info=b""):
        dest, src = self._peer[1], self._peer[0]
        size = encode_frame_into(self._tx, dest, src, ctrl, info)
        frame = bytes(self._tx[:size])
        self._last = frame
        self._poll = False
        self._frames.append(frame)

    def _reject(self, ctrl, reason):
        self._state = _REJECT
        self._frmr = bytes((ctrl, (self._vr << 5) | (self._vs << 1), reason))
        self._out = None
        self._apdun = 0
        self._await = False
        self._emit_frmr()

    def _emit_frmr(self):
        self._emit(FRMR | PF, self._frmr)

    # -- link state

    def _disconnect(self):
        """Back to the disconnected state (NDM); forget every per-link variable."""
        self._state = _NDM
        self._vs = self._vr = 0
        self._outstanding = False
        self._await = False
        self._poll = False
        self._out = None
        self._out_pos = 0
        self._out_first = False
        self._apdun = 0
        self._last = self._last_i = None
        self._frmr = b""
        self._peer = None
        self._my_addr = None
        self._client_octet = None
        self.client = None
        self.logical_device = None
        self.physical_address = None
        self.tx_max = self.rx_max = _DEFAULT_INFO

    def _link_reset(self):
        self._reset = True
        self._apdus = []
