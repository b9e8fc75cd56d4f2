"""DLMS security suite 0 (AES-GCM-128, 12-byte tag): protected APDUs, envelopes and HLS-GMAC.

A protected APDU body is ``SC || IC || payload``:

* SC, the security control byte: bits 3..0 suite id (0), bit 4 authentication, bit 5
  encryption, bit 6 key set (0 unicast, 1 broadcast), bit 7 compression (not supported);
* IC, the sender's invocation counter (4 bytes, big-endian);
* payload: ``ciphertext || tag`` (SC 30), ``plaintext || tag`` (SC 10) or ``ciphertext`` (SC 20).

IV = sender's system title (8) || IC; AAD = SC || AK, followed by the plaintext when only
authenticating. Envelopes around the body: ``<glo/ded tag> <length> body`` and, for
general-glo/ded-ciphering, ``DB|DC 08 <system title> <length> body`` (A-XDR lengths).

`Suite0` holds one key set (EK, AK) for one peer, with both invocation counters; every input
error raises a `SecurityError` subclass that names what is wrong.

The envelope tag and length are not authenticated (the AAD holds only SC and AK): after
unprotecting, the caller checks that the plain APDU's tag is ``plain_tag(envelope tag)``.
"""
import struct

from dlms import axdr, gcm

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SC_AUTH = const(0x10)
SC_ENC = const(0x20)
SC_AUTH_ENC = const(0x30)
SC_KEY_SET = const(0x40)
_SC_COMPRESSED = const(0x80)
_SC_SUITE = const(0x0F)

GENERAL_GLO = const(0xDB)
GENERAL_DED = const(0xDC)

HEADER_SIZE = const(5)
TAG_SIZE = const(12)
_MAX_IC = const(0xFFFFFFFF)
# Envelope room in front of a body: DB 08 <title 8> 82 <length 2>.
_ROOM = const(13)

# plain tag: (glo- tag, ded- tag)
_CIPHERED = {
    0x01: (0x21, 0x41),  # initiateRequest
    0x08: (0x28, 0x48),  # initiateResponse
    0x0E: (0x2E, 0x4E),  # confirmedServiceError
    0xC0: (0xC8, 0xD0),  # get-request
    0xC1: (0xC9, 0xD1),  # set-request
    0xC2: (0xCA, 0xD2),  # event-notification-request
    0xC3: (0xCB, 0xD3),  # action-request
    0xC4: (0xCC, 0xD4),  # get-response
    0xC5: (0xCD, 0xD5),  # set-response
    0xC7: (0xCF, 0xD7),  # action-response
}
# ciphered tag: (plain tag, dedicated key)
_PLAIN = {}
for _t, (_g, _d) in _CIPHERED.items():
    _PLAIN[_g] = (_t, False)
    _PLAIN[_d] = (_t, True)
del _t, _g, _d


class SecurityError(ValueError):
    """A protected APDU that cannot be accepted; subclasses say why."""


class TruncatedError(SecurityError):
    """Input shorter than its header, its tag or its length field."""


class FormatError(SecurityError):
    """Malformed envelope: unknown tag, bad system-title length or bytes past the end."""


class ControlByteError(SecurityError):
    """Security control byte not acceptable: suite, compression, key set, or below the policy."""


class AuthenticationError(SecurityError):
    """The authentication tag does not verify."""


class ReplayError(SecurityError):
    """Invocation counter not greater than the last one accepted (`received`, `last`)."""

    def __init__(self, received, last):
        super().__init__("invocation counter not above the last accepted", received, last)
        self.received = received
        self.last = last


class CapacityError(SecurityError):
    """APDU longer than the security context's capacity."""


class CounterExhaustedError(SecurityError):
    """Our invocation counter is used up: the key must be changed."""


class TitleError(SecurityError):
    """The peer's system title is not known yet."""


def ciphered_tag(tag, dedicated=False):
    """The glo- (or ded-) tag that carries a plain APDU tag ciphered; FormatError if none."""
    pair = _CIPHERED.get(tag)
    if pair is None:
        raise FormatError("APDU tag has no ciphered form", tag)
    return pair[1] if dedicated else pair[0]


def plain_tag(tag):
    """(plain tag, dedicated) for a glo-/ded- ciphered APDU tag; FormatError otherwise."""
    pair = _PLAIN.get(tag)
    if pair is None:
        raise FormatError("not a glo-/ded- ciphered APDU tag", tag)
    return pair


def header_size(tag, n):
    """Octets of the envelope header in front of a body of n octets."""
    size = 2 if n < 0x80 else 1 + axdr.length_size(n)
    if tag == GENERAL_GLO or tag == GENERAL_DED:
        size += 9
    return size


def put_header(buf, end, tag, n, title=None):
    """Write the envelope header of a body of n octets so that it ends at buf[end].

    `tag` is a glo-/ded- tag, or GENERAL_GLO / GENERAL_DED with the sender's 8-byte `title`.
    Returns the position of the first header octet.
    """
    general = tag == GENERAL_GLO or tag == GENERAL_DED
    if general:
        if title is None or len(title) != 8:
            raise ValueError("general ciphering needs an 8-byte system title")
    elif tag not in _PLAIN:
        raise ValueError("not a ciphered APDU tag")
    start = end - header_size(tag, n)
    if start < 0:
        raise ValueError("no room for the envelope header")
    buf[start] = tag
    pos = start + 1
    if general:
        buf[pos] = 8
        buf[pos + 1:pos + 9] = title
        pos += 9
    if n < 0x80:
        buf[pos] = n
    else:
        axdr.encode_length(buf, pos, n)
    return start


def _length(buf, pos, end):
    # A-XDR length: one octet below 0x80, else 0x8N followed by N octets (N = 1..4).
    if pos >= end:
        raise TruncatedError("no length field")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    size = first & 0x7F
    if size == 0 or size > 4:
        raise FormatError("bad length field", first)
    if end - pos < size:
        raise TruncatedError("truncated length field")
    n = 0
    for k in range(size):
        n = (n << 8) | buf[pos + k]
    return n, pos + size


def parse(apdu):
    """Split a ciphered APDU into (tag, title, body).

    `title` is the sender's system title (memoryview) for general-glo/ded-ciphering, None for
    glo-/ded- APDUs. `body` is a memoryview of ``SC IC payload``, whose length must be exactly
    the one announced.
    """
    end = len(apdu)
    if end < 1:
        raise TruncatedError("empty APDU")
    tag = apdu[0]
    pos = 1
    title = None
    if tag == GENERAL_GLO or tag == GENERAL_DED:
        if end < 2:
            raise TruncatedError("no system-title length")
        if apdu[1] != 8:
            raise FormatError("system title must be 8 bytes", apdu[1])
        if end < 10:
            raise TruncatedError("truncated system title")
        title = memoryview(apdu)[2:10]
        pos = 10
    elif tag not in _PLAIN:
        raise FormatError("not a ciphered APDU tag", tag)
    n, pos = _length(apdu, pos, end)
    if n > end - pos:
        raise TruncatedError("shorter than its length field")
    if n < end - pos:
        raise FormatError("bytes after the ciphered APDU")
    return tag, title, memoryview(apdu)[pos:]


class Suite0:
    """Security suite 0 for one key set (EK, AK) shared with one peer.

    `title` is our system title, `peer_title` the peer's (set from the AARQ/AARE). `tx_ic` is
    the last invocation counter we sent (the next APDU uses tx_ic + 1); `rx_ic` the last one
    accepted from the peer (-1: none yet), `rx_sc` that APDU's security control byte. The
    upper layer loads and saves the counters. `capacity` bounds the plain APDU length;
    `key_set` is 0 for the unicast key set, SC_KEY_SET for the broadcast one.
    Returned memoryviews stay valid until the next call of the same method.
    """

    def __init__(self, ek, ak, title, capacity=1024, key_set=0):
        if len(ak) != 16:
            raise ValueError("authentication key must be 16 bytes")
        if len(title) != 8:
            raise ValueError("system title must be 8 bytes")
        if capacity < 0 or capacity + HEADER_SIZE + TAG_SIZE > 0xFFFF:
            raise ValueError("capacity out of range")
        if key_set not in (0, SC_KEY_SET):
            raise ValueError("key_set must be 0 or SC_KEY_SET")
        self.capacity = capacity
        self.title = bytes(title)
        self.peer_title = None
        self.tx_ic = 0
        self.rx_ic = -1
        self.rx_sc = 0
        # Counters above these limits are used only after `on_limit(self, tx, rx)` has run: the
        # owner persists a reservation there and raises the limits, so counters survive a cut.
        self.tx_limit = _MAX_IC
        self.rx_limit = _MAX_IC
        self.on_limit = None
        self._key_set = key_set
        self._gcm = gcm.Gcm(ek, capacity)
        self._aad = bytearray(1 + 16 + max(capacity, 64))
        self._aad[1:17] = ak
        self._aadv = memoryview(self._aad)
        self._tx_iv = bytearray(12)
        self._tx_iv[0:8] = self.title
        self._rx_iv = bytearray(12)
        self._out = bytearray(_ROOM + HEADER_SIZE + capacity + TAG_SIZE)
        self._outv = memoryview(self._out)
        self._pt = bytearray(capacity)
        self._ptv = memoryview(self._pt)

    def set_peer_title(self, title):
        """Record the peer's 8-byte system title (from AARQ A6 / AARE A4)."""
        if len(title) != 8:
            raise ValueError("system title must be 8 bytes")
        self.peer_title = bytes(title)

    def _check_sc(self, sc, policy):
        if sc & _SC_SUITE:
            raise ControlByteError("not security suite 0", sc)
        if sc & _SC_COMPRESSED:
            raise ControlByteError("compression not supported", sc)
        if sc & SC_KEY_SET != self._key_set:
            raise ControlByteError("wrong key set", sc)
        if not sc & SC_AUTH_ENC:
            raise ControlByteError("neither authenticated nor encrypted", sc)
        if sc & policy != policy:
            raise ControlByteError("protection below the security policy", sc)

    def _next_ic(self):
        if self.tx_ic >= _MAX_IC:
            raise CounterExhaustedError("invocation counter used up")
        if self.tx_ic >= self.tx_limit and self.on_limit is not None:
            self.on_limit(self, self.tx_ic + 1, self.rx_ic)
        self.tx_ic += 1
        struct.pack_into(">I", self._tx_iv, 8, self.tx_ic)
        return self.tx_ic

    def protect(self, sc, apdu, tag=0):
        """Protect a plain APDU with security control byte `sc` (SC_AUTH, SC_ENC or SC_AUTH_ENC,
        plus the key-set bit of this context) under the next invocation counter.

        Returns a memoryview of ``SC IC payload``, preceded by its envelope header when `tag`
        is a glo-/ded- tag or GENERAL_GLO / GENERAL_DED (the latter carry our system title).
        `apdu` must not be a view returned by this context's protect.
        """
        self._check_sc(sc, 0)
        if tag and tag != GENERAL_GLO and tag != GENERAL_DED and tag not in _PLAIN:
            raise ValueError("not a ciphered APDU tag")
        n = len(apdu)
        if n > self.capacity:
            raise CapacityError("APDU longer than the capacity", n)
        ic = self._next_ic()
        out = self._out
        out[_ROOM] = sc
        struct.pack_into(">I", out, _ROOM + 1, ic)
        p = _ROOM + HEADER_SIZE
        if sc & SC_AUTH_ENC == SC_AUTH_ENC:
            self._aad[0] = sc
            end = self._gcm.seal(self._tx_iv, self._aad, 17, apdu, n, out, p)
        elif sc & SC_AUTH:
            aad = self._aad
            aad[0] = sc
            aad[17:17 + n] = apdu
            out[p:p + n] = apdu
            self._gcm.mac(self._tx_iv, aad, 17 + n, out, p + n)
            end = p + n + TAG_SIZE
        else:
            self._gcm.crypt(self._tx_iv, apdu, 0, n, out, p)
            end = p + n
        start = _ROOM
        if tag:
            start = put_header(out, _ROOM, tag, end - _ROOM, self.title)
        return self._outv[start:end]

    def _rx_title(self, title):
        if title is None:
            title = self.peer_title
            if title is None:
                raise TitleError("peer system title unknown")
        if len(title) != 8:
            raise TitleError("system title must be 8 bytes")
        self._rx_iv[0:8] = title

    def unprotect(self, body, policy=SC_AUTH, title=None):
        """Check and decipher ``SC IC payload`` from the peer; return the plain APDU.

        `policy` holds the SC bits that must be set (SC_AUTH by default: unauthenticated APDUs
        are refused; 0 accepts encryption only). `title` overrides the peer's system title
        (general-glo-ciphering carries it). On success rx_ic and rx_sc take the APDU's values.
        """
        size = len(body)
        if size < HEADER_SIZE:
            raise TruncatedError("no security header")
        sc = body[0]
        self._check_sc(sc, policy)
        n = size - HEADER_SIZE
        if sc & SC_AUTH:
            n -= TAG_SIZE
            if n < 0:
                raise TruncatedError("no authentication tag")
        if n > self.capacity:
            raise CapacityError("APDU longer than the capacity", n)
        ic = (body[1] << 24) | (body[2] << 16) | (body[3] << 8) | body[4]
        if ic <= self.rx_ic:
            raise ReplayError(ic, self.rx_ic)
        self._rx_title(title)
        struct.pack_into(">I", self._rx_iv, 8, ic)
        if sc & SC_AUTH_ENC == SC_AUTH_ENC:
            self._aad[0] = sc
            if not self._gcm.open(self._rx_iv, self._aad, 17, body, HEADER_SIZE, n, self._pt):
                raise AuthenticationError("tag mismatch")
        elif sc & SC_AUTH:
            aad = self._aad
            aad[0] = sc
            aad[17:17 + n] = memoryview(body)[HEADER_SIZE:HEADER_SIZE + n]
            if not self._gcm.mac_ok(self._rx_iv, aad, 17 + n, body, HEADER_SIZE + n):
                raise AuthenticationError("tag mismatch")
            self._pt[0:n] = self._aadv[17:17 + n]
        else:
            self._gcm.crypt(self._rx_iv, body, HEADER_SIZE, n, self._pt, 0)
        self._accept(ic)
        self.rx_sc = sc
        return self._ptv[:n]

    def _accept(self, ic):
        if ic > self.rx_limit and self.on_limit is not None:
            self.on_limit(self, self.tx_ic, ic)
        self.rx_ic = ic

    def _hls_aad(self, challenge):
        n = len(challenge)
        if n > len(self._aad) - 17:
            raise CapacityError("HLS challenge too long", n)
        aad = self._aad
        aad[0] = SC_AUTH | self._key_set
        aad[17:17 + n] = challenge
        return 17 + n

    def hls_answer(self, challenge):
        """f(challenge) of HLS mechanism 5 under our title and next invocation counter:
        ``10 || IC || GMAC(EK, title || IC, 10 || AK || challenge)`` (17 bytes)."""
        alen = self._hls_aad(challenge)
        ic = self._next_ic()
        f = bytearray(HEADER_SIZE + TAG_SIZE)
        f[0] = SC_AUTH | self._key_set
        struct.pack_into(">I", f, 1, ic)
        self._gcm.mac(self._tx_iv, self._aad, alen, f, HEADER_SIZE)
        return bytes(f)

    def hls_check(self, challenge, answer, title=None):
        """Verify the peer's f(challenge) (see hls_answer) for the challenge we sent; on
        success rx_ic takes its invocation counter. Raises a SecurityError otherwise."""
        size = len(answer)
        if size < HEADER_SIZE + TAG_SIZE:
            raise TruncatedError("HLS answer shorter than 17 bytes")
        if size > HEADER_SIZE + TAG_SIZE:
            raise FormatError("HLS answer longer than 17 bytes")
        sc = answer[0]
        if sc != SC_AUTH | self._key_set:
            raise ControlByteError("HLS answer must be authenticated only", sc)
        ic = (answer[1] << 24) | (answer[2] << 16) | (answer[3] << 8) | answer[4]
        if ic <= self.rx_ic:
            raise ReplayError(ic, self.rx_ic)
        self._rx_title(title)
        struct.pack_into(">I", self._rx_iv, 8, ic)
        alen = self._hls_aad(challenge)
        if not self._gcm.mac_ok(self._rx_iv, self._aad, alen, answer, HEADER_SIZE):
            raise AuthenticationError("HLS answer does not verify")
        self._accept(ic)
