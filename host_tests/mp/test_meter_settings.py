# MicroPython-only checks of the meter's COSEM service, sans-IO: the management client (with
# security.Suite0 as its suite) sets the clock, transfers new keys (dlms.keywrap as the wrapper)
# and is then blocked after three wrong HLS replies (time.ticks_ms back-off).
import sim_clock
import sim_nv
from dlms import axdr, keywrap, security
from runtime import cosem_service
from runtime import meter as meter_mod
from runtime.auth_guard import AuthGuard

EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
NEW_EK = b"\x5a" * 16
NEW_AK = b"\xa5" * 16
CLIENT_TITLE = b"MMM\x00\x00\x00\x00\x01"
SERVER_TITLE = b"ISK\x00\x00\x00\x00\x01"
CLOCK = b"\x00\x00\x01\x00\x00\xff"
SEC0 = b"\x00\x00\x2b\x00\x00\xff"
INITIATE = b"\x01\x00\x00\x00\x06\x5f\x1f\x04\x00\x00\x7e\x1f\x04\xb0"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Board:
    def __init__(self):
        self.clock = sim_clock.Clock(1000, 822657600)
        self.nv = sim_nv.NvMem()


class StubMeter:
    model = "me382"
    nphases = 1

    def __init__(self, board):
        self.board = board
        self.store = meter_mod.open_store(board.nv)
        self._last_save_s = 0
        self.services = []
        self.powered = False

    def set_time(self, seconds, us=0):
        meter_mod.Meter.set_time(self, seconds, us)

    energy_regs = None

    def energy(self):
        return {}

    def values(self):
        return {}


def ber(tag, content):
    return bytes((tag, len(content))) + content


def aarq(user_info):
    body = (ber(0xA1, ber(0x06, b"\x60\x85\x74\x05\x08\x01\x03")) +
            ber(0xA6, ber(0x04, CLIENT_TITLE)) + b"\x8a\x02\x07\x80" +
            ber(0x8B, b"\x60\x85\x74\x05\x08\x02\x05") +
            ber(0xAC, ber(0x80, b"K56iVagY")) + ber(0xBE, ber(0x04, user_info)))
    return ber(0x60, body)


def aare_result(aare):
    i = aare.index(b"\xa2\x03\x02\x01")
    j = aare.index(b"\xa3\x05\xa1\x03\x02\x01")
    return aare[i + 4], aare[j + 6]


def request(conn, client, apdu, tag):
    tag, title, body = security.parse(conn.handle(1, bytes(client.protect(0x30, apdu, tag))))
    return bytes(client.unprotect(body, security.SC_AUTH_ENC))


def associate(app, ek, ak, right=True):
    """(connection, client suite, AARE result pair, pass-3 Action-Result or None)."""
    client = security.Suite0(ek, ak, CLIENT_TITLE)
    client.set_peer_title(SERVER_TITLE)
    client.tx_ic = app.suites[1].rx_ic + 1
    conn = app.connection()
    aare = conn.handle(1, aarq(bytes(client.protect(0x30, INITIATE, 0x21))))
    result = aare_result(aare)
    if result != (0, 14):
        return conn, client, result, None
    i = aare.index(b"\xaa\x12\x80\x10")
    stoc = aare[i + 4:i + 20] if right else bytes(16)
    act = b"\xc3\x01\xc1\x00\x0f\x00\x00\x28\x00\x00\xff\x01\x01\x09\x11"
    rsp = request(conn, client, act + client.hls_answer(stoc), 0xCB)
    return conn, client, result, rsp[3]


def test_clock_set_and_key_transfer():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, client, result, act = associate(app, EK, AK)
    check(result == (0, 14) and act == 0, "management association")
    t = axdr.pack_datetime(2026, 7, 4, None, 14, 0, 0, 25, -120, None)
    rsp = request(conn, client, b"\xc1\x01\xc1\x00\x08" + CLOCK + b"\x02\x00\x09\x0c" + t, 0xC9)
    check(rsp == b"\xc5\x01\xc1\x00", "clock set")
    check(board.clock.now_us() == 836481600 * 1000000 + 250000, "board clock")
    bad = axdr.pack_datetime(2026, 2, 29, None, 0, 0, 0, None, None, None)
    rsp = request(conn, client, b"\xc1\x01\xc1\x00\x08" + CLOCK + b"\x02\x00\x09\x0c" + bad, 0xC9)
    check(rsp == b"\xc5\x01\xc1\xfa", "29 February 2026 refused")
    arg = (b"\x01\x02\x02\x02\x16\x00\x09\x18" + keywrap.wrap(EK, NEW_EK) +
           b"\x02\x02\x16\x02\x09\x18" + keywrap.wrap(EK, NEW_AK))
    rsp = request(conn, client, b"\xc3\x01\xc1\x00\x40" + SEC0 + b"\x02\x01" + arg, 0xCB)
    check(rsp == b"\xc7\x01\xc1\x00\x00", "key transfer")
    check(associate(app, EK, AK)[2] == (1, 13), "old keys refused")
    check(associate(app, NEW_EK, NEW_AK)[3] == 0, "new keys")
    app2, _ = cosem_service.build(StubMeter(board))
    check(associate(app2, NEW_EK, NEW_AK)[3] == 0, "new keys after a restart")


def test_three_wrong_replies_block():
    app, _ = cosem_service.build(StubMeter(Board()), guard=AuthGuard(3, 60000, 600000))
    for _ in range(3):
        check(associate(app, EK, AK, False)[3] == 3, "wrong f(StoC) denied")
    check(associate(app, EK, AK)[2] == (2, 13), "blocked: rejected-transient")


class Captured:
    def __init__(self):
        self.rows = []

    def capture(self, code, t_s):
        self.rows.append((code, t_s))


def test_clock_methods_and_time_shift_limit():
    from core import events
    board = Board()
    m = StubMeter(board)
    m.log = Captured()
    m.events = events.Events({"standard": m.log})
    m.raise_event = lambda code: m.events.raise_event(code, board.clock.now())
    app, src = cosem_service.build(m)
    conn, client, result, act = associate(app, EK, AK)
    check(result == (0, 14) and act == 0, "management association")
    start = board.clock.now()
    board.clock.set(start + 7 * 60 + 31)
    rsp = request(conn, client, b"\xc3\x01\xc1\x00\x08" + CLOCK + b"\x01\x01\x0f\x00", 0xCB)
    check(rsp == b"\xc7\x01\xc1\x00\x00", "adjust_to_quarter")
    check(board.clock.now() == start + 900, "nearest quarter")
    check(m.log.rows == [(4, start + 451), (5, start + 900)], "events 4 and 5")
    limit = b"\x00\x03\x01\x00\x00\x09\x0b\xff"
    rsp = request(conn, client, b"\xc1\x01\xc1" + limit + b"\x02\x00\x12\x00\x1e", 0xC9)
    check(rsp == b"\xc5\x01\xc1\x00", "time-shift limit set")
    shift = b"\xc3\x01\xc1\x00\x08" + CLOCK + b"\x06\x01\x10"
    rsp = request(conn, client, shift + b"\xff\xe1", 0xCB)       # -31 s
    check(rsp == b"\xc7\x01\xc1\xfa\x00", "shift beyond the limit refused")
    rsp = request(conn, client, shift + b"\xff\xe2", 0xCB)       # -30 s
    check(rsp == b"\xc7\x01\xc1\x00\x00", "shift_time")
    check(board.clock.now() == start + 870 and len(m.log.rows) == 4, "shifted once")
    _, src2 = cosem_service.build(StubMeter(board))
    check(src2.read("clock.shift_limit") == 30, "limit kept in NV")


def test_security_events():
    from core import events
    board = Board()
    m = StubMeter(board)
    m.log = Captured()
    fraud = Captured()
    m.events = events.Events({"standard": m.log, "fraud": fraud})
    m.raise_event = lambda code: m.events.raise_event(code, board.clock.now())
    app, src = cosem_service.build(m, guard=AuthGuard(3, 60000, 600000))
    for _ in range(3):
        check(associate(app, EK, AK, False)[3] == 3, "wrong f(StoC) denied")
    check([c for c, _ in fraud.rows] == [46], "one event 46 at the limit")
    app2, _ = cosem_service.build(m)
    conn, client, result, act = associate(app2, EK, AK)
    arg = b"\x01\x01\x02\x02\x16\x00\x09\x18" + keywrap.wrap(EK, NEW_EK)
    rsp = request(conn, client, b"\xc3\x01\xc1\x00\x40" + SEC0 + b"\x02\x01" + arg, 0xCB)
    check(rsp == b"\xc7\x01\xc1\x00\x00", "key transfer")
    check([c for c, _ in m.log.rows] == [48], "event 48")
