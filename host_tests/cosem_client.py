"""A small independent DLMS/COSEM client for tests: APDU builders, suite-0 ciphering with the
`cryptography` package, and bounded blocking transports (COSEM wrapper over TCP, HDLC over TCP).

Every socket has a timeout and every loop a bound, so a misbehaving server fails a test instead
of hanging it.
"""
import os
import socket
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
# System title of the service under test: "ISK" + serial 1.
SERVICE_TITLE = b"ISK\x00\x00\x00\x00\x01"
TIMEOUT = 5.0


def obis(text):
    """6 octets of an OBIS code written a-b:c.d.e (f = 255)."""
    ab, _, cde = text.partition(":")
    a, b = ab.split("-")
    c, d, e = cde.split(".")
    return bytes((int(a), int(b), int(c), int(d), int(e), 255))


def _ber(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag, 0x81, n)) + content


def initiate_request(conformance=0x007E1F, pdu=1200, version=6):
    """Plain xDLMS InitiateRequest."""
    return (b"\x01\x00\x00\x00" + bytes((version,)) + b"\x5f\x1f\x04\x00" +
            conformance.to_bytes(3, "big") + pdu.to_bytes(2, "big"))


def aarq(context=1, mechanism=0, title=None, auth_value=None, user_info=None):
    """AARQ with the given application context and mechanism ids."""
    body = _ber(0xA1, _ber(0x06, b"\x60\x85\x74\x05\x08\x01" + bytes((context,))))
    if title is not None:
        body += _ber(0xA6, _ber(0x04, title))
    if mechanism:
        body += b"\x8a\x02\x07\x80" + _ber(0x8B, b"\x60\x85\x74\x05\x08\x02" +
                                            bytes((mechanism,)))
    if auth_value is not None:
        body += _ber(0xAC, _ber(0x80, auth_value))
    if user_info is None:
        user_info = initiate_request()
    body += _ber(0xBE, _ber(0x04, user_info))
    return _ber(0x60, body)


RLRQ = bytes.fromhex("6203800100")


def get(class_id, ln, attr, iip=0xC1):
    """Get-Request-Normal."""
    return bytes((0xC0, 1, iip)) + struct.pack(">H", class_id) + ln + bytes((attr, 0))


def get_next(block, iip=0xC1):
    """Get-Request-Next."""
    return bytes((0xC0, 2, iip)) + struct.pack(">I", block)


def set_(class_id, ln, attr, data, iip=0xC1):
    """Set-Request-Normal with an encoded Data value."""
    return bytes((0xC1, 1, iip)) + struct.pack(">H", class_id) + ln + bytes((attr, 0)) + data


def action(class_id, ln, method, data=None, iip=0xC1):
    """Action-Request-Normal with an optional encoded Data parameter."""
    head = bytes((0xC3, 1, iip)) + struct.pack(">H", class_id) + ln + bytes((method,))
    return head + (b"\x00" if data is None else b"\x01" + data)


def aare_fields(apdu):
    """{tag: contents} of the top-level fields of an AARE (or RLRE)."""
    assert apdu[0] in (0x61, 0x63)
    out = {}
    pos = 2 if apdu[1] < 0x80 else 3
    while pos < len(apdu):
        tag = apdu[pos]
        n = apdu[pos + 1]
        p = pos + 2
        if n == 0x81:
            n = apdu[p]
            p += 1
        out[tag] = apdu[p:p + n]
        pos = p + n
    return out


def aare_result(apdu):
    """(result, diagnostic) of an AARE."""
    f = aare_fields(apdu)
    return f[0xA2][-1], f[0xA3][-1]


def aare_user_info(apdu):
    """The xDLMS APDU inside the AARE user-information."""
    ui = aare_fields(apdu)[0xBE]
    return ui[2:] if ui[1] < 0x80 else ui[3:]


# ---------------------------------------------------------------- security suite 0

def _gcm_encrypt(key, iv, aad, plaintext):
    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return ct, enc.tag[:12]


def _gcm_decrypt(key, iv, aad, ct, tag):
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(ct) + dec.finalize()


def _length(n):
    return bytes((n,)) if n < 0x80 else (bytes((0x81, n)) if n < 0x100 else
                                          b"\x82" + n.to_bytes(2, "big"))


class Suite0Client:
    """The client side of security suite 0: our title and counter, the server's title."""

    def __init__(self, ek=EK, ak=AK, title=CLIENT_TITLE, ic=0):
        self.ek, self.ak, self.title, self.ic = ek, ak, title, ic
        self.server_title = None

    def protect(self, tag, apdu, sc=0x30, general=False):
        """`tag` ciphered APDU (or general-glo when `general`) around a plain one."""
        self.ic += 1
        iv = self.title + struct.pack(">I", self.ic)
        if sc == 0x30:
            ct, t = _gcm_encrypt(self.ek, iv, bytes((sc,)) + self.ak, apdu)
            payload = ct + t
        else:
            _, t = _gcm_encrypt(self.ek, iv, bytes((sc,)) + self.ak + apdu, b"")
            payload = apdu + t
        body = bytes((sc,)) + struct.pack(">I", self.ic) + payload
        if general:
            return b"\xdb\x08" + self.title + _length(len(body)) + body
        return bytes((tag,)) + _length(len(body)) + body

    def unprotect(self, apdu):
        """(tag, sc, plain APDU) of a glo- or general-glo-ciphered answer from the server."""
        tag = apdu[0]
        pos = 1
        title = self.server_title
        if tag == 0xDB:
            title = apdu[2:10]
            pos = 10
        n = apdu[pos]
        pos += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(apdu[pos:pos + k], "big")
            pos += k
        body = apdu[pos:pos + n]
        assert len(body) == n and pos + n == len(apdu)
        sc = body[0]
        iv = bytes(title) + body[1:5]
        if sc == 0x30:
            plain = _gcm_decrypt(self.ek, iv, bytes((sc,)) + self.ak, body[5:-12], body[-12:])
        else:
            plain = body[5:-12]
            _gcm_decrypt(self.ek, iv, bytes((sc,)) + self.ak + plain, b"", body[-12:])
        return tag, sc, plain

    def gmac(self, title, ic, challenge):
        """f(challenge) = 10 || IC || GMAC(EK, title || IC, 10 || AK || challenge)."""
        icb = struct.pack(">I", ic)
        _, t = _gcm_encrypt(self.ek, bytes(title) + icb, b"\x10" + self.ak + challenge, b"")
        return b"\x10" + icb + t

    def hls_reply(self, stoc):
        """Our f(StoC) under the next invocation counter."""
        self.ic += 1
        return self.gmac(self.title, self.ic, stoc)


def random_challenge(n=16):
    """A CtoS challenge."""
    return os.urandom(n)


# ---------------------------------------------------------------- transports

def _recv_exact(sock, n, deadline):
    out = b""
    while len(out) < n:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("connection closed")
        out += chunk
    return out


class WrapperClient:
    """COSEM wrapper over TCP: one request, one answer."""

    def __init__(self, port, client_sap=16, server_sap=1, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.client_sap = client_sap
        self.server_sap = server_sap

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, apdu):
        """Send one WPDU."""
        self.send_raw(struct.pack(">HHHH", 1, self.client_sap, self.server_sap, len(apdu)) +
                      apdu)

    def recv(self, timeout=TIMEOUT):
        """The APDU of the next WPDU."""
        deadline = time.monotonic() + timeout
        head = _recv_exact(self.sock, 8, deadline)
        version, src, dst, n = struct.unpack(">HHHH", head)
        assert version == 1 and src == self.server_sap and dst == self.client_sap
        return _recv_exact(self.sock, n, deadline)

    def request(self, apdu):
        """Send a request APDU and return the answer APDU."""
        self.send(apdu)
        return self.recv()

    def closed_by_peer(self, timeout=TIMEOUT):
        """True once the server closes the connection (within timeout)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(64) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def read_long(request, first):
    """Reassemble a Get-Response that may come in datablocks; return the raw Data octets.

    `request(apdu) -> apdu` sends a Get-Request-Next and returns the answer."""
    rsp = first
    if rsp[1] == 1:
        assert rsp[3] == 0, rsp.hex()
        return rsp[4:]
    data = b""
    for _ in range(10000):
        assert rsp[0] == 0xC4 and rsp[1] == 2, rsp.hex()
        last = rsp[3]
        block = struct.unpack(">I", rsp[4:8])[0]
        assert rsp[8] == 0, rsp.hex()
        n = rsp[9]
        p = 10
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(rsp[p:p + k], "big")
            p += k
        data += rsp[p:p + n]
        assert len(rsp) == p + n
        if last:
            return data
        rsp = request(get_next(block))
    raise AssertionError("too many blocks")


# ---------------------------------------------------------------- the COSEM service under test

class Service:
    """The firmware process (firmware/main.py on the host board, real time, meter clock started
    at 2026-01-15 12:00 UTC) with its COSEM transports; a context manager.

    `wrapper_port` and `optical_port` are free ports on 127.0.0.1 chosen at start."""

    def __init__(self, model="me382", optical=False):
        import os
        import tempfile
        import mpy
        self._tmp = tempfile.TemporaryDirectory()
        self.wrapper_port = _free_port()
        self.optical_port = _free_port() if optical else 0
        self.cmd = [mpy.MICROPYTHON, os.path.join(mpy.FIRMWARE, "main.py"), "--model", model,
                    "--state", self._tmp.name, "--start", "2026-01-15T12:00:00",
                    "--control-port", "0", "--wrapper-port", str(self.wrapper_port),
                    "--optical-port", str(self.optical_port)]
        self._root = mpy.ROOT
        self.proc = None

    def __enter__(self):
        import subprocess
        import time
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=self._root)
        deadline = time.monotonic() + 20
        while True:
            try:
                for port in (self.wrapper_port, self.optical_port):
                    if port:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    out, err = self.proc.communicate(timeout=5)
                    raise RuntimeError("COSEM service did not start:\n" + out + err)
                time.sleep(0.05)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.communicate(timeout=10)
        self._tmp.cleanup()


class ControlledService(Service):
    """The firmware process with its COSEM transports and its control channel on."""

    def __init__(self, model="me382", optical=False):
        Service.__init__(self, model, optical)
        self.control_port = _free_port()
        k = self.cmd.index("--control-port")
        self.cmd[k + 1] = str(self.control_port)

    def ctl(self, cmd, **fields):
        """One control channel request (docs/meterctl.md); its reply, which must be ok."""
        import simproc
        req = {"cmd": cmd}
        req.update(fields)
        rsp = simproc.meterctl.request(req, port=self.control_port, timeout=60)
        assert rsp["ok"], rsp
        return rsp


def hls_associate(client, s=None):
    """A management association (HLS-GMAC, context LN with ciphering) on `client` (a transport
    with request(apdu)); its Suite0Client. A client keeps its Suite0Client across associations:
    the server refuses invocation counters it has seen."""
    s = s or Suite0Client()
    aare = client.request(aarq(context=3, mechanism=5, title=CLIENT_TITLE,
                               auth_value=random_challenge(16),
                               user_info=s.protect(0x21, initiate_request())))
    assert aare_result(aare) == (0, 14)
    s.server_title = SERVICE_TITLE
    stoc = aare_fields(aare)[0xAA][2:]
    _, _, rsp = s.unprotect(client.request(s.protect(0xCB, action(
        15, obis("0-0:40.0.0"), 1, b"\x09\x11" + s.hls_reply(stoc)))))
    assert rsp[:5] == bytes.fromhex("C701C10001")
    return s


def management(port, s=None):
    """A management association over the COSEM wrapper on `port`: (WrapperClient, Suite0Client)."""
    c = WrapperClient(port, client_sap=1)
    return c, hls_associate(c, s)


class WrapperConn:
    """A wrapper client seen through the connection interface of the sans-IO test helpers."""

    def __init__(self, client):
        self.client = client

    def handle(self, sap, apdu):
        return self.client.request(apdu)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HdlcClient:
    """HDLC client over TCP (the optical port of the host board), frames delimited by their
    length field; window 1, default 128-octet information fields."""

    def __init__(self, port, client_sap=16, server=(1, 17), host="127.0.0.1"):
        from links import hdlc
        self.hdlc = hdlc
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.dest = hdlc.server_address(*server)
        self.src = hdlc.client_address(client_sap)
        self.ns = self.nr = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_line(self, timeout=TIMEOUT):
        """Octets up to and including CR LF (the mode E opening)."""
        deadline = time.monotonic() + timeout
        out = b""
        while not out.endswith(b"\r\n"):
            out += _recv_exact(self.sock, 1, deadline)
        return out

    def recv_frame(self, timeout=TIMEOUT):
        """The next frame, decoded."""
        deadline = time.monotonic() + timeout
        while _recv_exact(self.sock, 1, deadline) != b"\x7e":
            pass
        fmt = _recv_exact(self.sock, 2, deadline)
        n = (fmt[0] & 7) << 8 | fmt[1]
        raw = b"\x7e" + fmt + _recv_exact(self.sock, n - 1, deadline)
        return self.hdlc.decode_frame(raw)

    def command(self, control, info=b""):
        """Send a frame and return the answer frame."""
        self.send_raw(self.hdlc.encode_frame(self.dest, self.src, control, info))
        return self.recv_frame()

    def connect(self):
        """SNRM -> UA (default parameters)."""
        ua = self.command(0x93)
        assert ua.control == 0x73, hex(ua.control)
        self.ns = self.nr = 0
        return ua

    def disconnect(self):
        """DISC -> the answer frame (UA when connected)."""
        return self.command(0x53)

    def request(self, apdu):
        """Send an APDU in one I-frame; return the answer APDU, polling for its segments."""
        frame = self.command(self.nr << 5 | 0x10 | self.ns << 1, b"\xe6\xe6\x00" + apdu)
        self.ns = (self.ns + 1) % 8
        info = b""
        for _ in range(1000):
            assert frame.control & 1 == 0, hex(frame.control)    # an I-frame
            self.nr = (self.nr + 1) % 8
            info += frame.info
            if not frame.segmented:
                assert info[:3] == b"\xe6\xe7\x00"
                return info[3:]
            frame = self.command(self.nr << 5 | 0x11)            # RR: next segment
        raise AssertionError("too many segments")

    def close(self):
        self.sock.close()
