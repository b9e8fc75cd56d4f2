"""Security setup key transfer (RFC 3394 under the master key, `cryptography`'s aes_key_wrap as
the oracle) of the four key ids and security_activate: unit tests, sans-IO through the meter's
server (new keys for new associations only, a new master key wraps the next transfers, kept in
NV, never readable, a power cut at any byte keeps all old or all new keys), micropython, and end
to end across a restart."""
import os

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

import cosem_client as cc
import mpy
from dlms import axdr, keywrap
from runtime import cosem_service, key_transfer
from runtime.meter import KEY_KEYS
import sim_nv
from test_clock_set import Board, StubMeter, associate

KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
NEW_EK = bytes.fromhex("5A" * 16)
NEW_AK = bytes.fromhex("A5A6A7A8A9AAABACADAEAFB0B1B2B3B4")
NEW_BK = bytes.fromhex("B0" * 16)
NEW_MK = bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
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


def test_all_four_key_ids_unwrap():
    assert key_transfer.unwrap_all(KEK, items((1, aes_key_wrap(KEK, NEW_BK)))) == {1: NEW_BK}
    assert key_transfer.unwrap_all(KEK, items((3, aes_key_wrap(KEK, NEW_MK)),
                                              (1, aes_key_wrap(KEK, NEW_BK)))) == \
        {3: NEW_MK, 1: NEW_BK}


@pytest.mark.parametrize("arg", [
    items((4, aes_key_wrap(KEK, NEW_EK))),                          # no such key id
    items((0, aes_key_wrap(KEK, NEW_EK)), (3, aes_key_wrap(KEK, NEW_MK))),  # both records
    items((1, aes_key_wrap(KEK, NEW_BK)), (2, aes_key_wrap(KEK, NEW_AK))),
    items((3, aes_key_wrap(KEK, NEW_MK)), (3, aes_key_wrap(KEK, NEW_MK))),
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
    ext = key_transfer.pack_ext(NEW_BK, NEW_MK)
    assert len(ext) == key_transfer.EXT_RECORD_SIZE
    assert key_transfer.unpack_ext(ext) == (NEW_BK, NEW_MK)
    assert key_transfer.unpack_ext(key_transfer.pack_ext(None, NEW_MK)) == (None, NEW_MK)
    for bad in (ext[:-1], ext + b"\x00", b"\x02" + ext[1:], ext[:1] + b"\x02" + ext[2:]):
        with pytest.raises(ValueError):
            key_transfer.unpack_ext(bad)


def test_keys_ext_is_an_appended_nv_record():
    # After every record of older firmware (push_sched was the last): they keep their place.
    from runtime import nvlayout
    names = [k for k, _ in nvlayout.RECORDS]
    assert names.index(key_transfer.KEY_EXT) > names.index("push_sched")
    assert dict(nvlayout.RECORDS)[key_transfer.KEY_EXT] == 40 >= key_transfer.EXT_RECORD_SIZE


def test_key_transfer_under_micropython():
    wrapped = aes_key_wrap(KEK, NEW_EK)
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from runtime import key_transfer as k\n"
        "from dlms import axdr\n"
        "w = bytes.fromhex('%s')\n"
        "arg = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.ENUM, 0), (axdr.OCTET_STRING, w)])])\n"
        "print(k.unwrap_all(k.DEFAULT_KEK, arg)[0].hex())\n"
        "print(k.unpack(k.pack(3, b'1' * 16, b'2' * 16))[0])\n"
        "print(k.unpack_ext(k.pack_ext(None, b'3' * 16))[0])\n"
        "try:\n"
        "    k.unwrap_all(k.DEFAULT_KEK, (axdr.ARRAY, arg[1] * 2))\n"
        "except ValueError:\n"
        "    print('refused')\n" % wrapped.hex())
    assert out.split() == [NEW_EK.hex(), "3", "None", "refused"]


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
           encoded((3, aes_key_wrap(KEK, NEW_MK)), (0, aes_key_wrap(KEK, NEW_EK))),
           encoded((3, aes_key_wrap(NEW_EK, NEW_MK))),
           encoded((5, aes_key_wrap(KEK, NEW_MK))),
           encoded((0, aes_key_wrap(KEK, NEW_EK)[:-8])))
    assert [action(conn, s, 2, a) for a in bad] == [250] * 5
    assert action(conn, s, 2, b"\x16\x00") == 12                       # not an array
    assert src.meter.store.read(KEY_KEYS) is None
    assert src.meter.store.read(key_transfer.KEY_EXT) is None
    assert src.kek == KEK and src.bk is None
    assert try_associate(app, cc.EK, cc.AK, s.ic + 1) == (0, 14)


def test_only_the_encryption_key_changes():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    assert action(conn, s, 2, encoded((0, aes_key_wrap(KEK, NEW_EK)))) == 0
    assert try_associate(app, NEW_EK, cc.AK, s.ic + 1) == (0, 14)


def test_new_master_key_wraps_the_next_transfers_and_survives_a_restart():
    board = Board()
    app, src = cosem_service.build(StubMeter(board))
    conn, s = associate(app)
    assert action(conn, s, 2, encoded((3, aes_key_wrap(KEK, NEW_MK)),
                                      (1, aes_key_wrap(KEK, NEW_BK)))) == 0
    assert src.kek == NEW_MK and src.bk == NEW_BK
    assert src.meter.store.read(key_transfer.KEY_EXT) == key_transfer.pack_ext(NEW_BK, NEW_MK)
    # The unicast keys are untouched, and the old master key no longer unwraps anything.
    assert src.meter.store.read(KEY_KEYS) is None and src.keys == (cc.EK, cc.AK)
    assert action(conn, s, 2, encoded((0, aes_key_wrap(KEK, NEW_EK)))) == 250
    assert action(conn, s, 2, encoded((0, aes_key_wrap(NEW_MK, NEW_EK)))) == 0
    # A master key alone keeps the stored broadcast key.
    assert action(conn, s, 2, encoded((3, aes_key_wrap(NEW_MK, KEK)))) == 0
    assert src.meter.store.read(key_transfer.KEY_EXT) == key_transfer.pack_ext(NEW_BK, KEK)
    assert action(conn, s, 2, encoded((3, aes_key_wrap(KEK, NEW_MK)))) == 0
    assert try_associate(app, NEW_EK, cc.AK, s.ic + 1) == (0, 14)
    # Restart: the same NV gives both records back.
    app2, src2 = cosem_service.build(StubMeter(board))
    assert (src2.kek, src2.bk, src2.keys) == (NEW_MK, NEW_BK, (NEW_EK, cc.AK))


def test_unusable_keys_ext_record_falls_back_to_the_test_master_key():
    m = StubMeter()
    m.store.write(key_transfer.KEY_EXT, b"\x09" + bytes(33))
    app, src = cosem_service.build(m)
    assert (src.kek, src.bk) == (KEK, None)


def _key_state(board):
    # What a boot on this NV uses: (EK, AK, policy, BK, MK).
    app, src = cosem_service.build(StubMeter(board))
    return src.keys + (src.values["sec0.security_policy"], src.bk, src.kek)


@pytest.mark.parametrize("torn", [False, True])
def test_power_cut_at_every_byte_of_either_record_keeps_old_or_new_keys(torn):
    """Each transfer writes one record (header 12 + data + CRC 4 octets); a cut at any byte of
    it, clean or tearing the page, boots with every old key or every new one."""
    steps = (
        ((0, NEW_EK), (2, NEW_AK)),                 # keys record (no earlier copy)
        ((3, NEW_MK), (1, NEW_BK)),                 # keys_ext record (no earlier copy)
        ((0, cc.EK), (2, cc.AK)),                   # keys record over an earlier copy
        ((1, b"\x11" * 16), (3, b"\x33" * 16)),     # keys_ext record over an earlier copy
    )
    board = Board()
    for pairs in steps:
        before = _key_state(board)
        size = 12 + key_transfer.RECORD_SIZE + 4
        after = None
        for cut in range(size + 1):
            saved = bytes(board.nv._mem)
            app, src = cosem_service.build(StubMeter(board))
            arg = items(*[(i, aes_key_wrap(before[4], k)) for i, k in pairs])
            board.nv.cut_after(cut, torn=torn, seed=cut + 1)
            try:
                src._key_transfer(arg)
                assert cut == size
            except sim_nv.PowerCut:
                assert cut < size
            board.nv.restore()
            got = _key_state(board)
            if after is None:
                after = list(before)
                for i, k in pairs:
                    after[{0: 0, 2: 1, 1: 3, 3: 4}[i]] = k
                after = tuple(after)
            assert got in (before, after), (cut, torn)
            if cut < size:
                board.nv._mem[:] = saved
        assert _key_state(board) == after


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


def test_e2e_new_master_key_then_encryption_key_wrapped_with_it():
    service = cc.Service()
    with service:
        s = cc.Suite0Client(ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s)
        for pairs, result in ((((3, aes_key_wrap(KEK, NEW_MK)),), 0),
                              (((0, aes_key_wrap(KEK, NEW_EK)),), 250),    # the old KEK
                              (((0, aes_key_wrap(NEW_MK, NEW_EK)),), 0)):
            arg = encoded(*pairs)
            _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(64, SEC0, 2, arg))))
            assert rsp == bytes.fromhex("C701C1") + bytes((result,)) + b"\x00"
        assert c.request(cc.RLRQ)[:2] == b"\x63\x03"
        c.close()
        s2 = cc.Suite0Client(ek=NEW_EK, ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s2)
        _, _, rsp = s2.unprotect(c.request(s2.protect(0xC8, cc.get(3, cc.obis("1-0:1.8.0"), 3))))
        assert rsp[:4] == bytes.fromhex("C401C100")
        c.close()
        # Restart: the new master key still wraps transfers, the new EK still associates.
        service.proc.kill()
        service.proc.communicate(timeout=10)
        service.__enter__()
        s3 = cc.Suite0Client(ek=NEW_EK, ic=_frame_counter(service.wrapper_port))
        c = _hls(service.wrapper_port, s3)
        arg = encoded((0, aes_key_wrap(NEW_MK, cc.EK)))
        _, _, rsp = s3.unprotect(c.request(s3.protect(0xCB, cc.action(64, SEC0, 2, arg))))
        assert rsp == bytes.fromhex("C701C10000")
        c.close()
