"""Failed authentications: one log line each, and after 3 in a row the client's AARQs are refused
(rejected-transient, authentication-failure) for a back-off that doubles up to a cap; success
resets it. Unit tests of runtime.auth_guard, sans-IO through the meter's server, micropython."""
import mpy
import pytest

import cosem_client as cc
from runtime import cosem_service
from runtime.auth_guard import AuthGuard
from test_clock_set import StubMeter, associate

BLOCKED = (2, 13)       # rejected-transient, authentication-failure


class Ticks:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


def test_guard_counts_blocks_doubles_and_resets(capsys):
    t = Ticks()
    g = AuthGuard(3, 1000, 5000, t)
    g.failed(1, "wrong HLS f(StoC)")
    g.failed(1, "wrong HLS f(StoC)")
    assert g.blocked_ms(1) == 0
    g.failed(1, "bad GCM tag")
    assert g.blocked_ms(1) == 1000 and g.blocked_ms(2) == 0
    t.t += 999
    assert g.blocked_ms(1) == 1
    backoffs = []
    for _ in range(4):
        t.t += 10000
        assert g.blocked_ms(1) == 0
        g.failed(1, "bad GCM tag")
        backoffs.append(g.blocked_ms(1))
    assert backoffs == [2000, 4000, 5000, 5000]
    g.succeeded(1)
    assert g.blocked_ms(1) == 0
    g.failed(1, "x")
    g.failed(1, "x")
    assert g.blocked_ms(1) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 9
    assert lines[0] == ("warning: authentication failure, client 1: wrong HLS f(StoC) "
                        "(1 in a row, back-off 0 ms)")
    assert lines[2].endswith("(3 in a row, back-off 1000 ms)")


def test_guard_arguments_are_checked():
    for args in ((0, 1, 1), (1, 0, 1), (1, 10, 5)):
        with pytest.raises(ValueError):
            AuthGuard(*args)


def hls_attempt(app, good, sap=1):
    """One management association attempt: the AARE result, then pass 3 with a right or wrong
    f(StoC); the Action-Result (or the AARE result pair when the AARQ was refused). Each attempt
    continues the invocation counter, as a client that reads the frame counter first does."""
    s = cc.Suite0Client(ic=app.suites[sap].rx_ic + 1)
    conn = app.connection()
    aare = conn.handle(sap, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                    auth_value=cc.random_challenge(16),
                                    user_info=s.protect(0x21, cc.initiate_request())))
    if cc.aare_result(aare) != (0, 14):
        return cc.aare_result(aare)
    s.server_title = cc.SERVICE_TITLE
    stoc = cc.aare_fields(aare)[0xAA][2:]
    reply = s.hls_reply(stoc if good else bytes(16))
    rsp = conn.handle(sap, s.protect(0xCB, cc.action(15, cc.obis("0-0:40.0.0"), 1,
                                                     b"\x09\x11" + reply)))
    return s.unprotect(rsp)[2][3]


def meter_app(ticks):
    m = StubMeter()
    return cosem_service.build(m, guard=AuthGuard(3, 10000, 40000, ticks))[0]


def test_wrong_f_stoc_three_times_blocks_the_management_client(capsys):
    t = Ticks()
    app = meter_app(t)
    # Every wrong f(StoC) gets read-write-denied; the fourth AARQ is refused outright.
    assert [hls_attempt(app, False) for _ in range(3)] == [3, 3, 3]
    assert hls_attempt(app, True) == BLOCKED
    # Other clients are not affected.
    conn = app.connection()
    assert cc.aare_result(conn.handle(16, cc.aarq())) == (0, 0)
    t.t += 10000
    assert hls_attempt(app, False) == 3         # the back-off is over; this failure doubles it
    t.t += 10000
    assert hls_attempt(app, True) == BLOCKED
    t.t += 10000
    assert hls_attempt(app, True) == 0          # success clears the record
    assert hls_attempt(app, False) == 3
    assert hls_attempt(app, True) == 0
    err = capsys.readouterr().err
    assert err.count("authentication failure, client 1: wrong HLS f(StoC)") == 5


def test_bad_aarq_authentication_counts():
    t = Ticks()
    app = meter_app(t)
    s = cc.Suite0Client(ek=bytes(16))        # glo-initiateRequest under a wrong key
    for _ in range(2):
        conn = app.connection()
        aare = conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                      auth_value=cc.random_challenge(16),
                                      user_info=s.protect(0x21, cc.initiate_request())))
        assert cc.aare_result(aare) == (1, 13)
    conn = app.connection()
    aare = conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                  auth_value=b"short", user_info=cc.initiate_request()))
    assert cc.aare_result(aare) == (1, 13)      # CtoS below 8 octets: the third failure
    assert hls_attempt(app, True) == BLOCKED


def test_bad_gcm_tags_count_and_a_good_association_resets():
    t = Ticks()
    app = meter_app(t)
    conn, s = associate(app)
    for _ in range(3):
        apdu = bytearray(s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2)))
        apdu[-1] ^= 1
        assert conn.handle(1, bytes(apdu)) == bytes.fromhex("D80105")
    # The open association goes on; new AARQs are refused until the back-off ends.
    _, _, rsp = s.unprotect(conn.handle(1, s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2))))
    assert rsp[:4] == bytes.fromhex("C401C100")
    assert hls_attempt(app, True) == BLOCKED
    t.t += 10000
    assert hls_attempt(app, True) == 0
    assert app.guard.blocked_ms(1) == 0


def test_auth_guard_under_micropython():
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from runtime.auth_guard import AuthGuard\n"
        "g = AuthGuard(2, 60000, 600000)\n"
        "g.failed(5, 'a'); print(g.blocked_ms(5)); g.failed(5, 'b'); b = g.blocked_ms(5)\n"
        "print(59000 < b <= 60000); g.succeeded(5); print(g.blocked_ms(5))\n")
    assert out.split() == ["0", "True", "0"]


def test_e2e_three_wrong_replies_block_the_management_client():
    with cc.Service() as service:
        ic = 0
        for _ in range(3):
            c = cc.WrapperClient(service.wrapper_port, client_sap=1)
            try:
                s = cc.Suite0Client(ic=ic)
                aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                         auth_value=cc.random_challenge(16),
                                         user_info=s.protect(0x21, cc.initiate_request())))
                assert cc.aare_result(aare) == (0, 14)
                s.server_title = cc.SERVICE_TITLE
                rsp = c.request(s.protect(0xCB, cc.action(15, cc.obis("0-0:40.0.0"), 1,
                                                          b"\x09\x11" + s.hls_reply(bytes(16)))))
                assert s.unprotect(rsp)[2][3] == 3
                ic = s.ic
            finally:
                c.close()
        c = cc.WrapperClient(service.wrapper_port, client_sap=1)
        try:
            s = cc.Suite0Client(ic=ic)
            aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                     auth_value=cc.random_challenge(16),
                                     user_info=s.protect(0x21, cc.initiate_request())))
            assert cc.aare_result(aare) == BLOCKED
        finally:
            c.close()
        service.proc.kill()
        _, err = service.proc.communicate(timeout=10)
        assert err.count("authentication failure, client 1: wrong HLS f(StoC)") == 3


def test_tick_wrap_does_not_revive_a_back_off():
    # MicroPython's ticks_diff of a wrapped counter: negative once 2^29 ms have passed.
    t = Ticks()
    g = AuthGuard(1, 1000, 1000, t)
    g.failed(3, "x")
    assert g.blocked_ms(3) == 1000
    t.t -= 1 << 30          # as a wrapped ticks_diff would see it
    assert g.blocked_ms(3) == 0
    t.t += 1 << 30
    assert g.blocked_ms(3) == 0     # marked over: no revival


def test_security_events_reach_the_meter_logs_without_flooding():
    from test_clock_set import EventMeter
    m = EventMeter()
    fraud = []
    m.events.attach("fraud", type("Sink", (), {"capture": lambda self, c, t: fraud.append(c)})())
    t = Ticks()
    app = cosem_service.build(m, guard=AuthGuard(3, 10000, 40000, t))[0]
    # Three wrong HLS replies: one event 46 when the limit is reached, not one per failure.
    assert [hls_attempt(app, False) for _ in range(4)] == [3, 3, 3, BLOCKED]
    assert fraud == [46]
    t.t += 10000
    assert hls_attempt(app, False) == 3
    assert fraud == [46]
    t.t += 20000
    assert hls_attempt(app, True) == 0
    # Bad GCM tags: event 49 at the limit; replays: event 50 once until the next authentication.
    conn, s = associate(app, cc.Suite0Client(ic=app.suites[1].rx_ic + 1))
    for _ in range(4):
        apdu = bytearray(s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2)))
        apdu[-1] ^= 1
        assert conn.handle(1, bytes(apdu)) == bytes.fromhex("D80105")
    assert fraud == [46, 49]
    s.ic -= 10
    for _ in range(3):
        assert conn.handle(1, s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2)))[:3] == \
            bytes.fromhex("D80106")
    assert fraud == [46, 49, 50]
    assert m.events.alarm[0] & (1 << 13)        # alarm register 1: fraud attempt
