"""Security setup key transfer (RFC 3394 under the master key, `cryptography`'s aes_key_wrap as
the oracle) and security_activate: unit tests, sans-IO through the meter's server (new keys for
new associations only, kept in NV, never readable), micropython, and end to end across a restart."""
import os

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

import cosem_client as cc
import mpy
from dlms import axdr, keywrap
from runtime import cosem_service, key_transfer
from runtime.meter import KEY_KEYS
from test_clock_set import Board, StubMeter, associate

KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
NEW_EK = bytes.fromhex("5A" * 16)
NEW_AK = bytes.fromhex("A5A6A7A8A9AAABACADAEAFB0B1B2B3B4")
SEC0 = cc.obis("0-0:43.0.0")


def items(*pairs):
    """The global_key_transfer argument as a Data tuple."""
    return (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.ENUM, i), (axdr.OCTET_STRING, w)])
                         for i, w in pairs])


def encoded(*pairs):
    """The same argument in A-XDR."""
    out = b"\x01" + bytes((len(pairs),))
    for i, w in pairs:
        out += b"\x02\x02\x16" + bytes((i,)) + b"\x09" + bytes((len(w),)) + w
    return out


# ------------------------------------------------------------------ unit

@pytest.mark.parametrize("key", [NEW_EK, NEW_AK, os.urandom(16), bytes(16)])
def test_unwrap_matches_the_cryptography_oracle(key):
    wrapped = aes_key_wrap(KEK, key)
    assert keywrap.wrap(KEK, key) == wrapped
    assert key_transfer.unwrap_all(KEK, items((0, wrapped))) == {0: key}
    assert key_transfer.unwrap_all(KEK, items((2, wrapped), (0, aes_key_wrap(KEK, NEW_EK)))) == \
        {2: key, 0: NEW_EK}


@pytest.mark.parametrize("arg", [
    items((1, aes_key_wrap(KEK, NEW_EK))),                          # broadcast key
    items((3, aes_key_wrap(KEK, NEW_EK))),                          # master key
    items((0, aes_key_wrap(KEK, NEW_EK)), (0, aes_key_wrap(KEK, NEW_AK))),
    items((0, aes_key_wrap(NEW_AK, NEW_EK))),                       # wrapped under another KEK
    items((0, aes_key_wrap(KEK, NEW_EK)[:-1] + b"\x00")),           # altered
    items((0, aes_key_wrap(KEK, NEW_EK + NEW_AK))),                 # a 32-octet key
    items(),
])
def test_bad_transfers_are_refused(arg):
    with pytest.raises(ValueError):
        key_transfer.unwrap_all(KEK, arg)


def test_policy_only_rises_and_record_round_trips():
    assert key_transfer.raise_policy(1, 3) == 3 and key_transfer.raise_policy(3, 3) == 3
    for cur, new in ((3, 1), (3, 2), (1, 2), (2, 0), (0, 4)):
        with pytest.raises(ValueError):
            key_transfer.raise_policy(cur, new)
    rec = key_transfer.pack(3, NEW_EK, NEW_AK)
    assert len(rec) == key_transfer.RECORD_SIZE
    assert key_transfer.unpack(rec) == (3, NEW_EK, NEW_AK)
    for bad in (rec[:-1], b"\x02" + rec[1:], rec[:1] + b"\x04" + rec[2:]):
        with pytest.raises(ValueError):
            key_transfer.unpack(bad)


def test_key_transfer_under_micropython():
    wrapped = aes_key_wrap(KEK, NEW_EK)
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from runtime import key_transfer as k\n"
        "from dlms import axdr\n"
        "w = bytes.fromhex('%s')\n"
        "arg = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.ENUM, 0), (axdr.OCTET_STRING, w)])])\n"
        "print(k.unwrap_all(k.DEFAULT_KEK, arg)[0].hex())\n"
        "print(k.unpack(k.pack(3, b'1' * 16, b'2' * 16))[0])\n" % wrapped.hex())
    assert out.split() == [NEW_EK.hex(), "3"]


# ------------------------------------------------------------------ sans-IO

def action(conn, s, method, data):
    _, _, rsp = s.unprotect(conn.handle(1, s.protect(0xCB, cc.action(64, SEC0, method, data))))
    assert rsp[:3] == bytes.fromhex("C701C1")
    return rsp[3]


def try_associate(app, ek, ak, ic):
    s = cc.Suite0Client(ek=ek, ak=ak, ic=ic)
    conn = app.connection()
    aare = conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                  auth_value=cc.random_challenge(16),
                                  user_info=s.protect(0x21, cc.initiate_request())))
    return cc.aare_result(aare)


def test_key_change_applies_to_new_associations_and_survives_a_restart():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    arg = encoded((0, aes_key_wrap(KEK, NEW_EK)), (2, aes_key_wrap(KEK, NEW_AK)))
    assert action(conn, s, 2, arg) == 0
    at_transfer = s.ic
    # The association that changed the keys goes on under the old ones.
    _, _, rsp = s.unprotect(conn.handle(1, s.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2))))
    assert rsp[:4] == bytes.fromhex("C401C100")
    # The new key set (shared with the pre-established client) continues the counters.
    suite = app.suites[1]
    assert app.suites[102] is suite and suite.rx_ic == at_transfer and conn.suite is not suite
    assert try_associate(app, cc.EK, cc.AK, s.ic) == (1, 13)
    assert try_associate(app, NEW_EK, NEW_AK, s.ic + 1) == (0, 14)
    new, s2 = associate(app, cc.Suite0Client(ek=NEW_EK, ak=NEW_AK, ic=s.ic + 2))
    # The keys are in NV, and no attribute of the security setup shows them.
    assert src.meter.store.read(KEY_KEYS) == key_transfer.pack(3, NEW_EK, NEW_AK)
    for attr in range(1, 6):
        _, _, rsp = s2.unprotect(new.handle(1, s2.protect(0xC8, cc.get(64, SEC0, attr))))
        assert rsp[:4] == bytes.fromhex("C401C100")
        assert NEW_EK not in rsp and NEW_AK not in rsp
    # Restart: the same NV gives the new keys back.
    app2, src2 = cosem_service.build(StubMeter(board))
    assert try_associate(app2, NEW_EK, NEW_AK, app2.suites[1].rx_ic + 1) == (0, 14)
    assert try_associate(app2, cc.EK, cc.AK, app2.suites[1].rx_ic + 1) == (1, 13)


def test_refused_transfers_change_nothing():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    bad = (encoded((0, aes_key_wrap(KEK, NEW_EK)), (2, aes_key_wrap(NEW_EK, NEW_AK))),
           encoded((3, aes_key_wrap(KEK, NEW_EK))),
           encoded((0, aes_key_wrap(KEK, NEW_EK)[:-8])))
    assert [action(conn, s, 2, a) for a in bad] == [250, 250, 250]
    assert action(conn, s, 2, b"\x16\x00") == 12                       # not an array
    assert src.meter.store.read(KEY_KEYS) is None
    assert try_associate(app, cc.EK, cc.AK, s.ic + 1) == (0, 14)


def test_only_the_encryption_key_changes():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    assert action(conn, s, 2, encoded((0, aes_key_wrap(KEK, NEW_EK)))) == 0
    assert try_associate(app, NEW_EK, cc.AK, s.ic + 1) == (0, 14)


def test_security_activate_only_raises():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    assert action(conn, s, 1, b"\x16\x03") == 0
    assert action(conn, s, 1, b"\x16\x01") == 250
    assert action(conn, s, 1, b"\x16\x00") == 250
    _, _, rsp = s.unprotect(conn.handle(1, s.protect(0xC8, cc.get(64, SEC0, 2))))
    assert rsp == bytes.fromhex("C401C1001603")
    # A meter left at policy 1 (authenticated only) may be raised to 3, and that is kept.
    board.nv = type(board.nv)()
    m = StubMeter(board)
    m.store.write(KEY_KEYS, key_transfer.pack(1, cc.EK, cc.AK))
    app, src = cosem_service.build(m)
    assert app.policy == 0x10
    conn, s = associate(app)
    assert action(conn, s, 1, b"\x16\x03") == 0
    assert app.policy == 0x30 and key_transfer.unpack(m.store.read(KEY_KEYS))[0] == 3


# ------------------------------------------------------------------ end to end

def _frame_counter(port):
    c = cc.WrapperClient(port)
    try:
        assert cc.aare_result(c.request(cc.aarq())) == (0, 0)
        rsp = c.request(cc.get(1, cc.obis("0-0:43.1.0"), 2))
        assert rsp[:5] == bytes.fromhex("C401C10006")
        return int.from_bytes(rsp[5:9], "big")
    finally:
        c.close()


def _hls(port, s):
    """Associate the management client over the wrapper; the open client, or the AARE pair."""
    c = cc.WrapperClient(port, client_sap=1)
    aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                             auth_value=cc.random_challenge(16),
                             user_info=s.protect(0x21, cc.initiate_request())))
    if cc.aare_result(aare) != (0, 14):
        c.close()
        return cc.aare_result(aare)
    s.server_title = cc.SERVICE_TITLE
    stoc = cc.aare_fields(aare)[0xAA][2:]
    _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(
        15, cc.obis("0-0:40.0.0"), 1, b"\x09\x11" + s.hls_reply(stoc)))))
    assert rsp[:5] == bytes.fromhex("C701C10001")
    return c


def test_e2e_key_change_then_new_association_and_restart():
    service = cc.Service()
    with service:
        s = cc.Suite0Client(ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s)
        arg = encoded((0, aes_key_wrap(KEK, NEW_EK)), (2, aes_key_wrap(KEK, NEW_AK)))
        _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(64, SEC0, 2, arg))))
        assert rsp == bytes.fromhex("C701C10000")
        assert c.request(cc.RLRQ)[:2] == b"\x63\x03"
        c.close()
        old = cc.Suite0Client(ic=_frame_counter(service.wrapper_port))
        assert _hls(service.wrapper_port, old) == (1, 13)
        s2 = cc.Suite0Client(ek=NEW_EK, ak=NEW_AK, ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s2)
        _, _, rsp = s2.unprotect(c.request(s2.protect(0xC8, cc.get(3, cc.obis("1-0:1.8.0"), 3))))
        assert rsp[:4] == bytes.fromhex("C401C100")
        c.close()
        # A hard restart of the firmware on the same NV file.
        service.proc.kill()
        service.proc.communicate(timeout=10)
        service.__enter__()
        s3 = cc.Suite0Client(ek=NEW_EK, ak=NEW_AK, ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s3)
        _, _, rsp = s3.unprotect(c.request(s3.protect(0xC8, cc.get(1, cc.obis("0-0:42.0.0"), 2))))
        assert rsp[:4] == bytes.fromhex("C401C100")
        c.close()


def test_key_change_raises_event_48():
    from test_clock_set import EventMeter
    m = EventMeter()
    app, src = cosem_service.build(m)
    conn, s = associate(app)
    assert action(conn, s, 2, encoded((0, aes_key_wrap(KEK, b"\x01" * 16)), (1, b"\x00" * 24))) \
        == 250
    assert m.log.rows == []
    assert action(conn, s, 2, encoded((0, aes_key_wrap(KEK, NEW_EK)))) == 0
    assert [code for code, _ in m.log.rows] == [48]
    assert m.events.alarm[1] & (1 << 13)        # alarm register 2: key changed
