"""Push setups (class 40) and Data-Notifications: the service with CPython asyncio and a local
listener, its settings over COSEM, and end to end: the firmware process under micropython pushes
to a pytest listener on 127.0.0.1 when its method is invoked, when an alarm bit is set (voltage
missing caused through the control channel) and at power up."""
import asyncio
import queue
import socket
import struct
import threading
import time

import pytest
from dlms_cosem.protocol.xdlms import DataNotification

import cosem_client as cc
import simproc
import sim_clock
import sim_nv
from core import civil
from dlms import axdr
from runtime import cosem_service, push
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

START = civil.to_epoch(2026, 2, 10, 9, 0, 0)
OS, S, A, LU, E = axdr.OCTET_STRING, axdr.STRUCTURE, axdr.ARRAY, axdr.LONG_UNSIGNED, axdr.ENUM
SETUP = {"connect": "0-0:25.9.0", "interval": "0-1:25.9.0", "alarm": "0-4:25.9.0"}


class Board:
    def __init__(self, nv=None):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()


def destination(text, transport=0, message=0):
    return S, [(E, transport), (OS, text.encode()), (E, message)]


def parse_frame(frame):
    """(source wPort, destination wPort, long invoke id, date-time octets, body Data) of a
    wrapped Data-Notification; dlms_cosem checks the APDU independently."""
    version, src, dst, length = struct.unpack(">HHHH", frame[:8])
    assert version == 1 and length == len(frame) - 8
    apdu = frame[8:]
    dn = DataNotification.from_bytes(apdu)
    assert dn.body == apdu[6 + apdu[5]:]
    return src, dst, dn.long_invoke_id_and_priority.long_invoke_id, apdu[6:6 + apdu[5]], \
        axdr.decode_all(dn.body)


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
    src, dst, invoke, when, body = parse_frame(frame)
    assert (src, dst) == (1, 102) and invoke >= 1
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


def test_firmware_pushes_on_method_alarm_and_power_up():
    listener = Listener()
    wport = _free_port()
    try:
        with simproc.Sim("--wrapper-port", str(wport), model="me382") as sim:
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
            src, dst, invoke, when, body = listener.next("interval")
            assert (src, dst) == (1, 102) and len(when) == 12
            assert body[1][1][1].startswith(b"ISK")                 # logical device name
            assert body[1][3][0] == axdr.DOUBLE_LONG_UNSIGNED         # A+ in Wh

            assert sim.ctl("load", phase=1, set={"u": 0.0})["ok"]    # voltage missing L1
            body = listener.next("alarm")[4]
            assert body[1][4][1] & (1 << 2)                          # alarm register 2 bit 2

            assert sim.ctl("power", state="off")["ok"]
            assert sim.ctl("load", phase=1, set={"u": 230.0})["ok"]
            assert sim.ctl("power", state="on")["ok"]
            body = listener.next("connect")[4]
            assert body[1][0] == (OS, cc.obis("0-0:25.9.0")) and len(body[1]) == 3
    finally:
        listener.close()


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
