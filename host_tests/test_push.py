"""Push setups (class 40) and Data-Notifications: the service with CPython asyncio and a local
listener, its settings over COSEM, the protection of the notifications (general-glo-ciphering
under the management client's keys and the server's invocation counter, opened with dlms_cosem),
and end to end: the firmware process under micropython pushes to a pytest listener on 127.0.0.1
when its method is invoked, when an alarm bit is set (voltage missing caused through the control
channel), at power up and after a restart."""
import asyncio
import queue
import socket
import struct
import tempfile
import threading
import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from dlms_cosem import security as dsec
from dlms_cosem.exceptions import DecryptionError
from dlms_cosem.protocol.xdlms import DataNotification, GeneralGlobalCipher
from hypothesis import given, settings, strategies as st

import cosem_client as cc
import models
import mpy
import simproc
import sim_clock
import sim_nv
from core import civil
from dlms import axdr, security
from runtime import cosem_service, key_transfer, push
from runtime import meter as meter_mod
from runtime.meter import KEY_KEYS
from test_clock_set import associate, ciphered

START = civil.to_epoch(2026, 2, 10, 9, 0, 0)
OS, S, A, LU, E = axdr.OCTET_STRING, axdr.STRUCTURE, axdr.ARRAY, axdr.LONG_UNSIGNED, axdr.ENUM
SETUP = {"connect": "0-0:25.9.0", "interval": "0-1:25.9.0", "alarm": "0-4:25.9.0"}
# The management client's global keys until a key transfer (Green Book test keys).
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
NEW_EK = bytes.fromhex("5A" * 16)
NEW_AK = bytes.fromhex("A5A6A7A8A9AAABACADAEAFB0B1B2B3B4")
KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
SERVER_TITLE = b"ISK" + (1).to_bytes(5, "big")      # "ISK" + serial 1


class Board:
    def __init__(self, nv=None):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()


def destination(text, transport=0, message=0):
    return S, [(E, transport), (OS, text.encode()), (E, message)]


def _ctr(ek, title, ic, data):
    # GCM without its tag is AES-CTR from the counter block IV || 2 (independent oracle).
    iv = title + ic.to_bytes(4, "big") + b"\x00\x00\x00\x02"
    d = Cipher(algorithms.AES(ek), modes.CTR(iv)).decryptor()
    return d.update(data) + d.finalize()


def open_apdu(apdu, ek=EK, ak=AK):
    """(security control byte, invocation counter, plain APDU) of a general-glo-ciphered APDU
    from the server, opened with dlms_cosem (the `cryptography` CTR for encryption only);
    DecryptionError if its tag does not verify. (None, None, apdu) for a plain one."""
    if apdu[0] != 0xDB:
        return None, None, apdu
    g = GeneralGlobalCipher.from_bytes(apdu)
    assert g.system_title == SERVER_TITLE
    sc = g.security_control
    assert sc.security_suite == 0 and not sc.broadcast_key and not sc.compressed
    title, ic, text = g.system_title, g.invocation_counter, g.ciphered_text
    if sc.encrypted and sc.authenticated:
        plain = dsec.decrypt(sc, title, ic, ek, text, ak)
    elif sc.authenticated:
        plain = text[:-12]
        if dsec.gmac(sc, title, ic, ek, ak, plain) != text[-12:]:
            raise DecryptionError("GMAC tag does not verify")
    else:
        plain = _ctr(ek, title, ic, text)
    return sc.to_bytes()[0], ic, plain


def parse_frame(frame, ek=EK, ak=AK):
    """(source wPort, destination wPort, long invoke id, date-time octets, body Data, security
    control byte, invocation counter) of a wrapped Data-Notification, opened first when it is
    ciphered (SC and IC None when plain); dlms_cosem checks the APDU independently."""
    version, src, dst, length = struct.unpack(">HHHH", frame[:8])
    assert version == 1 and length == len(frame) - 8
    sc, ic, apdu = open_apdu(frame[8:], ek, ak)
    dn = DataNotification.from_bytes(apdu)
    assert dn.body == apdu[6 + apdu[5]:]
    return src, dst, dn.long_invoke_id_and_priority.long_invoke_id, apdu[6:6 + apdu[5]], \
        axdr.decode_all(dn.body), sc, ic


def payload_at(frame):
    """Where the ciphertext (or plain text) of a wrapped general-glo-ciphered APDU starts."""
    return len(frame) - len(GeneralGlobalCipher.from_bytes(frame[8:]).ciphered_text)


def response_ic(raw):
    """The invocation counter of a ciphered answer of the server."""
    return int.from_bytes(bytes(security.parse(raw)[2][1:5]), "big")


def service_of(m):
    return [s for s in m.services if isinstance(s, push.Push)][0]


# -- pure parts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [("127.0.0.1:4059", ("127.0.0.1", 4059)), ("", None),
                                        ("localhost:1", ("localhost", 1))])
def test_destination(text, want):
    assert push.destination(destination(text)) == want


@pytest.mark.parametrize("value", [destination("127.0.0.1"), destination(":80"),
                                   destination("127.0.0.1:0"), destination("127.0.0.1:70000"),
                                   destination("127.0.0.1:x"), destination("1.2.3.4:5", 4),
                                   destination("1.2.3.4:5", 0, 1)])
def test_bad_destinations_are_refused(value):
    with pytest.raises(ValueError):
        push.destination(value)


def window(start, end):
    return S, [(OS, start), (OS, end)]


def test_communication_windows():
    daily = window(axdr.pack_datetime(None, None, None, None, 8, 0, 0, None, None, None),
                   axdr.pack_datetime(None, None, None, None, 17, 30, 0, None, None, None))
    night = window(axdr.pack_datetime(None, None, None, None, 22, 0, 0, None, None, None),
                   axdr.pack_datetime(None, None, None, None, 6, 0, 0, None, None, None))
    once = window(axdr.pack_datetime(2026, 3, 1, None, 0, 0, 0, None, None, None),
                  axdr.pack_datetime(2026, 3, 2, None, 0, 0, 0, None, None, None))
    t = civil.to_epoch(2026, 3, 1, 12, 0, 0)
    assert push.in_window([], t)
    assert push.in_window([daily], t) and not push.in_window([daily], t + 6 * 3600)
    assert push.in_window([night], t + 11 * 3600) and not push.in_window([night], t)
    assert push.in_window([once], t) and not push.in_window([once], t + 86400)
    assert push.in_window([daily, once], t + 6 * 3600)


# -- the service with CPython asyncio --------------------------------------------------------------

async def _listen():
    got = asyncio.Queue()

    async def client(reader, writer):
        got.put_nowait(await reader.read())
        writer.close()
    server = await asyncio.start_server(client, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


def test_method_push_sends_the_object_list_values():
    async def run():
        m = meter_mod.Meter(Board(), {"model": "me382"})
        _, src = cosem_service.build(m)
        server, port, got = await _listen()
        p = service_of(m)
        src.write("push.interval.send_destination_and_method",
                  destination("127.0.0.1:%d" % port))
        assert src.call("push.interval.push", 0) is None
        frame = await asyncio.wait_for(got.get(), 10)
        server.close()
        return m, p, frame
    m, p, frame = asyncio.run(run())
    src, dst, invoke, when, body, sc, ic = parse_frame(frame)
    assert (src, dst) == (1, 102) and invoke >= 1
    assert frame[8] == 0xDB and sc == 0x30 and ic >= 1     # policy 3: authenticated encryption
    assert len(when) == 12 and when[:2] == b"\x07\xea"        # the clock: 2026
    items = body[1]
    assert items[0] == (OS, cc.obis("0-1:25.9.0"))
    assert items[1][0] == OS and items[1][1].startswith(b"ISK")
    assert items[2][0] == OS and len(items[2][1]) == 12
    assert items[3] == (axdr.NULL, None)      # A+: a meter not powered has no registers
    assert p.sent[1] == 1 and p.failed[1] == 0


def test_alarm_push_carries_the_alarm_registers_and_failures_are_counted():
    async def run():
        m = meter_mod.Meter(Board(), {"model": "me382"})
        _, src = cosem_service.build(m)
        server, port, got = await _listen()
        src.write("push.alarm.send_destination_and_method", destination("127.0.0.1:%d" % port))
        m.raise_event(82)
        frame = await asyncio.wait_for(got.get(), 10)
        server.close()
        await server.wait_closed()
        # Nothing listens any more: 1 + 2 attempts, no delay between them, then counted.
        src.write("push.alarm.number_of_retries", 2)
        src.write("push.alarm.repetition_delay", 0)
        m.raise_event(83)
        p = service_of(m)
        for _ in range(200):
            if p.failed[2]:
                break
            await asyncio.sleep(0.01)
        return p, frame
    p, frame = asyncio.run(run())
    items = parse_frame(frame)[4][1]
    assert items[0] == (OS, cc.obis("0-4:25.9.0"))
    assert items[3] == (axdr.DOUBLE_LONG_UNSIGNED, 0)
    assert items[4] == (axdr.DOUBLE_LONG_UNSIGNED, 1 << 2)
    assert p.sent[2] == 1 and p.failed[2] == 1


def test_unreadable_objects_are_pushed_as_null_data():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    _, src = cosem_service.build(m)
    src.write("push.interval.push_object_list", (A, [
        (S, [(LU, 3), (OS, cc.obis("1-0:1.8.0")), (axdr.INTEGER, 2), (LU, 0)]),   # meter off
        (S, [(LU, 1), (OS, cc.obis("9-9:9.9.9")), (axdr.INTEGER, 2), (LU, 0)]),   # no object
        (S, [(LU, 3), (OS, cc.obis("0-0:42.0.0")), (axdr.INTEGER, 2), (LU, 0)]),  # wrong class
        (S, [(LU, 1), (OS, cc.obis("0-0:42.0.0")), (axdr.INTEGER, 9), (LU, 0)]),  # no attribute
        (S, [(LU, 3), (OS, cc.obis("1-0:12.31.0")), (axdr.INTEGER, 3), (LU, 2)]),  # element 2
        (S, [(LU, 1), (OS, cc.obis("0-0:97.98.1")), (axdr.INTEGER, 2), (LU, 1)]),  # not a list
    ]))
    values = service_of(m).values(1)
    assert values == [(axdr.NULL, None)] * 4 + [(E, 35), (axdr.NULL, None)]


# -- protection of the notifications ------------------------------------------------------------

def meter(policy=None, nv=None):
    """A meter and its COSEM server; `policy` is written to the NV keys record first (None: the
    defaults, policy 3 and the test keys)."""
    m = meter_mod.Meter(Board(nv), {"model": "me382"})
    if policy is not None:
        m.store.write(KEY_KEYS, key_transfer.pack(policy, EK, AK))
    app, src = cosem_service.build(m)
    return m, app, src


def push_frames(src, steps):
    """One push of the interval setup to a local listener after each step (a callable, or None
    for none), all in one event loop; the frames received, in order."""
    async def run():
        server, port, got = await _listen()
        src.write("push.interval.send_destination_and_method",
                  destination("127.0.0.1:%d" % port))
        frames = []
        for step in steps:
            if step is not None:
                step()
            assert src.call("push.interval.push", 0) is None
            frames.append(await asyncio.wait_for(got.get(), 10))
        server.close()
        await server.wait_closed()
        return frames
    return asyncio.run(run())


def test_default_policy_pushes_authenticated_and_encrypted():
    m, _, src = meter()
    frame, = push_frames(src, [None])
    _, _, _, _, body, sc, ic = parse_frame(frame)
    assert sc == 0x30 and body == (S, service_of(m).values(1))
    assert src.read("id.ldn") not in frame                 # the values travel encrypted
    for ek, ak in ((EK, NEW_AK), (NEW_EK, AK)):
        with pytest.raises(DecryptionError):
            parse_frame(frame, ek, ak)
    # The tag covers the invocation counter: the same frame under another counter is refused.
    k = payload_at(frame)
    forged = frame[:k - 4] + (ic + 1).to_bytes(4, "big") + frame[k:]
    with pytest.raises(DecryptionError):
        parse_frame(forged)


def test_authentication_only_leaves_the_notification_readable_with_a_valid_tag():
    m, _, src = meter(1)
    frame, = push_frames(src, [None])
    _, _, _, _, body, sc, _ = parse_frame(frame)
    assert sc == 0x10 and body == (S, service_of(m).values(1))
    plain = frame[payload_at(frame):-12]
    assert plain[0] == 0x0F and DataNotification.from_bytes(plain).body == axdr.encode(body)
    with pytest.raises(DecryptionError):
        parse_frame(frame, EK, NEW_AK)
    altered = frame[:-13] + bytes((frame[-13] ^ 1,)) + frame[-12:]
    with pytest.raises(DecryptionError):
        parse_frame(altered)


def test_encryption_only_and_plain_policies():
    _, _, src = meter(2)
    frame, = push_frames(src, [None])
    _, _, _, _, body, sc, _ = parse_frame(frame)
    # No tag: the ciphertext is as long as the notification (0F, invoke id, date-time, body).
    assert sc == 0x20 and len(frame) - payload_at(frame) == 1 + 4 + 13 + len(axdr.encode(body))
    _, _, src = meter(0)
    frame, = push_frames(src, [None])
    assert frame[8] == 0x0F and parse_frame(frame)[5:] == (None, None)


_SHARED = []


def _shared_meter():
    if not _SHARED:
        _SHARED.extend(meter())
    return _SHARED


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1, 2, 3]), st.binary(min_size=1, max_size=1000)),
                min_size=1, max_size=4))
def test_any_notification_opens_to_itself_under_increasing_counters(pushes):
    m, _, src = _shared_meter()
    p = service_of(m)
    last = src.suite.tx_ic
    for policy, apdu in pushes:
        src.values["sec0.security_policy"] = policy
        sent = bytes(p.protect(apdu))
        if not policy:
            assert sent == apdu
            continue
        sc, ic, plain = open_apdu(sent)
        assert plain == apdu and sc == key_transfer.POLICY_SC[policy] and ic > last
        last = ic


def test_protection_under_micropython():
    # The push's protection on the real binary, opened here with dlms_cosem: policies 1..3 under
    # consecutive counters of the suite, policy 0 and a missing suite plain (said once).
    apdu = bytes.fromhex("0F00000001000202090600011909" + "00FF") + b"x" * 200
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from dlms import security\n"
        "from runtime import log, push\n"
        "said = []\n"
        "log.warning = lambda *args: said.append(args)\n"
        "class Store:\n"
        "    def read(self, key):\n"
        "        return None\n"
        "class Events:\n"
        "    def subscribe(self, f):\n"
        "        pass\n"
        "class Meter:\n"
        "    store = Store()\n"
        "    events = Events()\n"
        "class Sources:\n"
        "    values = {}\n"
        "    suite = security.Suite0(bytes.fromhex('%s'), bytes.fromhex('%s'),\n"
        "                            b'ISK\\0\\0\\0\\0\\1')\n"
        "Sources.suite.tx_ic = 41\n"
        "p = push.Push(Meter())\n"
        "p.sources = Sources()\n"
        "apdu = bytes.fromhex('%s')\n"
        "for policy in (3, 1, 2, 0):\n"
        "    Sources.values['sec0.security_policy'] = policy\n"
        "    print(bytes(p.protect(apdu)).hex())\n"
        "Sources.suite = None\n"
        "Sources.values['sec0.security_policy'] = 3\n"
        "print(bytes(p.protect(apdu)).hex(), bytes(p.protect(apdu)).hex())\n"
        "print(len(said))\n"
        % (EK.hex(), AK.hex(), apdu.hex()))
    lines = out.split()
    opened = [open_apdu(bytes.fromhex(h)) for h in lines[:3]]
    assert opened == [(0x30, 42, apdu), (0x10, 43, apdu), (0x20, 44, apdu)]
    assert [bytes.fromhex(h) for h in lines[3:6]] == [apdu] * 3
    assert lines[6] == "1"


def test_a_raised_policy_applies_to_the_next_push():
    _, app, src = meter(1)

    def activate():
        conn, s = associate(app)
        rsp = ciphered(conn, s, cc.action(64, cc.obis("0-0:43.0.0"), 1,
                                          axdr.encode((E, 3))), 0xCB)
        assert rsp[:4] == bytes.fromhex("C701C100")
    before, after = push_frames(src, [None, activate])
    assert parse_frame(before)[5] == 0x10 and parse_frame(after)[5] == 0x30


def test_invocation_counters_increase_across_pushes_answers_and_a_restart():
    m, app, src = meter()
    answers = []

    def get():
        conn, s = associate(app)
        raw = conn.handle(1, s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2)))
        assert s.unprotect(raw)[2][:4] == bytes.fromhex("C401C100")
        answers.append(response_ic(raw))
    frames = push_frames(src, [None, None, get, None])
    ics = [parse_frame(f)[6] for f in frames]
    assert ics[0] < ics[1] < answers[0] < ics[2]
    # A restart on the same NV: the server sends above everything sent before it.
    _, _, src2 = meter(nv=m.board.nv)
    frame, = push_frames(src2, [None])
    assert parse_frame(frame)[6] > ics[2]


def test_after_a_key_transfer_pushes_use_the_new_keys():
    m, app, src = meter()
    transfer = []

    def change_keys():
        conn, s = associate(app)
        arg = (A, [(S, [(E, 0), (OS, aes_key_wrap(KEK, NEW_EK))]),
                   (S, [(E, 2), (OS, aes_key_wrap(KEK, NEW_AK))])])
        raw = conn.handle(1, s.protect(0xCB, cc.action(64, cc.obis("0-0:43.0.0"), 2,
                                                       axdr.encode(arg))))
        assert s.unprotect(raw)[2][:4] == bytes.fromhex("C701C100")
        transfer.append(response_ic(raw))
    before, after = push_frames(src, [None, change_keys])
    with pytest.raises(DecryptionError):
        parse_frame(after)
    ic = parse_frame(after, NEW_EK, NEW_AK)[6]
    assert parse_frame(before)[6] < transfer[0] < ic
    # The new keys come back from NV after a restart.
    _, _, src2 = meter(nv=m.board.nv)
    frame, = push_frames(src2, [None])
    assert parse_frame(frame, NEW_EK, NEW_AK)[6] > ic


def test_without_a_cosem_server_pushes_go_plain_and_say_so_once(capsys):
    m = meter_mod.Meter(Board(), {"model": "me382"})
    src = cosem_service.MeterSources(m, 1, SERVER_TITLE)
    src.model = models.load(m.model, src)
    assert src.suite is None and src.read("sec0.security_policy") == 3
    frames = push_frames(src, [None, None])
    assert [f[8] for f in frames] == [0x0F, 0x0F]
    assert [parse_frame(f)[5] for f in frames] == [None, None]
    assert capsys.readouterr().err.count("notifications sent plain") == 1


# -- settings over COSEM -----------------------------------------------------------------------

def test_settings_over_cosem_are_checked_and_kept_in_nv():
    m = meter_mod.Meter(Board(), {"model": "mt382"})
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    ln = cc.obis(SETUP["alarm"])

    def get(attr):
        rsp = ciphered(conn, s, cc.get(40, ln, attr), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return axdr.decode_all(rsp[4:])

    def set_(attr, data):
        return ciphered(conn, s, cc.set_(40, ln, attr, axdr.encode(data)), 0xC9)[3]

    assert get(2) == push.default_objects(ln)
    assert get(3) == destination("")
    assert set_(3, destination("127.0.0.1:4100")) == 0
    assert set_(3, destination("127.0.0.1")) == 250
    assert set_(3, destination("127.0.0.1:4100", 4)) == 250
    assert set_(3, (S, [(E, 0), (OS, b"x:1")])) == 12
    assert set_(6, (axdr.UNSIGNED, 5)) == 0
    assert set_(7, (LU, 30)) == 0
    assert set_(2, (A, [(S, [(LU, 1), (OS, cc.obis("0-0:42.0.0")), (axdr.INTEGER, 2),
                             (LU, 0)])] * 17)) == 250
    assert get(3) == destination("127.0.0.1:4100")
    again = service_of(meter_mod.Meter(Board(m.board.nv), {"model": "mt382"}))
    assert again.settings[2][1] == destination("127.0.0.1:4100")
    assert again.settings[2][4:] == [5, 30]
    # Method 1 with no event loop to run the push: temporary failure.
    rsp = ciphered(conn, s, cc.action(40, ln, 1, axdr.encode((axdr.INTEGER, 0))), 0xCB)
    assert rsp[3] == 2


# -- end to end: the firmware process pushes to a listener ---------------------------------------

class Listener:
    """A TCP listener on 127.0.0.1 collecting what each connection sends."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames = queue.Queue()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(5)
            data = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            conn.close()
            self.frames.put(data)

    def next(self, setup, timeout=30):
        """The next frame from push setup `setup` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.frames.get(timeout=max(0.1, deadline - time.monotonic()))
            parsed = parse_frame(frame)
            if parsed[4][1][0] == (OS, cc.obis(SETUP[setup])):
                return parsed

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()


class Management:
    """The management client (HLS GMAC) over the COSEM wrapper of the firmware process."""

    def __init__(self, port):
        self.c, self.s = cc.management(port)

    def request(self, tag, apdu):
        return self.s.unprotect(self.c.request(self.s.protect(tag, apdu)))[2]

    def set_(self, cls, text, attr, data):
        return self.request(0xC9, cc.set_(cls, cc.obis(text), attr, axdr.encode(data)))[3]

    def action(self, cls, text, method, data):
        return self.request(0xCB, cc.action(cls, cc.obis(text), method, axdr.encode(data)))[3]

    def close(self):
        self.c.request(cc.RLRQ)
        self.c.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_firmware_pushes_on_method_alarm_power_up_and_restart():
    # Ciphered under the default policy with the test keys; every push opens with dlms_cosem and
    # its invocation counter is above the one before, across a power cycle and a new process.
    listener = Listener()
    wport = _free_port()
    state = tempfile.TemporaryDirectory()
    try:
        with simproc.Sim("--wrapper-port", str(wport), model="me382",
                         state_dir=state.name) as sim:
            for _ in range(100):
                try:
                    mgmt = Management(wport)
                    break
                except OSError:
                    time.sleep(0.1)
            try:
                for text in SETUP.values():
                    assert mgmt.set_(40, text, 3, destination("127.0.0.1:%d" % listener.port)) \
                        == 0
                assert mgmt.action(40, SETUP["interval"], 1, (axdr.INTEGER, 0)) == 0
            finally:
                mgmt.close()
            src, dst, invoke, when, body, sc, ic = listener.next("interval")
            assert (src, dst) == (1, 102) and len(when) == 12 and sc == 0x30
            assert body[1][1][1].startswith(b"ISK")                 # logical device name
            assert body[1][3][0] == axdr.DOUBLE_LONG_UNSIGNED         # A+ in Wh
            ics = [ic]

            assert sim.ctl("load", phase=1, set={"u": 0.0})["ok"]    # voltage missing L1
            parsed = listener.next("alarm")
            assert parsed[4][1][4][1] & (1 << 2)                     # alarm register 2 bit 2
            ics.append(parsed[6])

            assert sim.ctl("power", state="off")["ok"]
            assert sim.ctl("load", phase=1, set={"u": 230.0})["ok"]
            assert sim.ctl("power", state="on")["ok"]
            parsed = listener.next("connect")
            body = parsed[4]
            assert body[1][0] == (OS, cc.obis("0-0:25.9.0")) and len(body[1]) == 3
            ics.append(parsed[6])
        with simproc.Sim("--wrapper-port", str(wport), model="me382", state_dir=state.name):
            parsed = listener.next("connect")           # the destination was kept in NV
            assert parsed[5] == 0x30
            ics.append(parsed[6])
        assert ics == sorted(set(ics))
    finally:
        listener.close()
        state.cleanup()


# -- the push action schedule (interval 1) ------------------------------------------------------

def _recording(m):
    p = service_of(m)
    calls = []
    p.trigger = lambda i: calls.append(i) or True
    return p, calls


def test_push_schedule_runs_daily_and_catches_up_once_after_an_outage():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    p, calls = _recording(m)
    p.power_on(START)                                  # 10:00 CET
    midnight = civil.to_epoch(2026, 2, 10, 23, 0, 0)   # 00:00 CET
    assert calls == [0]                                # on connectivity
    assert p.next_due(START) == midnight
    p.tick(midnight - 1)
    assert calls == [0]
    p.tick(midnight)
    assert calls == [0, 1]
    assert p.next_due(midnight) == midnight + 86400
    p.power_off(midnight + 5, False)
    # Off across two midnights: one push at power up, none repeated by a second boot.
    again = meter_mod.Meter(Board(m.board.nv), {"model": "me382"})
    p2, calls2 = _recording(again)
    p2.power_on(midnight + 2 * 86400 + 60)
    assert calls2 == [1, 0]
    third = meter_mod.Meter(Board(m.board.nv), {"model": "me382"})
    p3, calls3 = _recording(third)
    p3.power_on(midnight + 2 * 86400 + 120)
    assert calls3 == [0]


def test_push_schedule_and_script_table_over_cosem():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    p, calls = _recording(m)
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    sched = cc.obis("0-1:15.0.4")
    hourly = (A, [(S, [(OS, bytes((0xFF, 0, 0, 0))), (OS, bytes((0xFF, 0xFF, 0xFF, 0xFF,
                                                                  0xFF)))])])

    def get(cls, ln, attr):
        rsp = ciphered(conn, s, cc.get(cls, ln, attr), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return axdr.decode_all(rsp[4:])

    def set_(cls, ln, attr, data):
        return ciphered(conn, s, cc.set_(cls, ln, attr, axdr.encode(data)), 0xC9)[3]

    def act(cls, ln, method, data):
        return ciphered(conn, s, cc.action(cls, ln, method, axdr.encode(data)), 0xCB)[3]

    assert get(22, sched, 2) == (S, [(OS, cc.obis("0-0:10.0.108")), (LU, 1)])
    assert get(22, sched, 3) == (E, 1)
    assert set_(22, sched, 4, hourly) == 0
    assert set_(22, sched, 3, (E, 2)) == 250          # type 2: no wildcard in the date
    assert set_(22, sched, 2, (S, [(OS, cc.obis("0-0:10.0.1")), (LU, 1)])) == 3
    assert get(22, sched, 4) == hourly
    assert service_of(meter_mod.Meter(Board(m.board.nv), {"model": "me382"})).entries == \
        [((0xFF, 0, 0), (0xFFFF, 0xFF, 0xFF, 0xFF))]
    scripts = cc.obis("0-0:10.0.108")
    assert act(9, scripts, 1, (LU, 1)) == 0
    assert act(9, scripts, 1, (LU, 7)) == 250
    assert calls == [1]


def test_schedule_record_round_trip_and_refusal():
    raw = push.pack_schedule(3, [((6, 0, 0), (0xFFFF, 0xFF, 0xFF, 1)),
                                 ((6, 0, 0), (0xFFFF, 0xFF, 0xFF, 5))], 12345)
    assert push.unpack_schedule(raw) == (3, [((6, 0, 0), (0xFFFF, 0xFF, 0xFF, 1)),
                                             ((6, 0, 0), (0xFFFF, 0xFF, 0xFF, 5))], 12345)
    with pytest.raises(ValueError):
        push.unpack_schedule(raw[:-1])
    with pytest.raises(ValueError):
        push.unpack_schedule(push.pack_schedule(1, [], None))
