"""End to end over the COSEM wrapper: the meter with its COSEM service runs under micropython on
the host board; the real dlms-cosem client and a raw-socket client talk to it on 127.0.0.1."""
import threading
import time

import pytest
from dlms_cosem import cosem, enumerations
from dlms_cosem.clients.dlms_client import DataResultError, DlmsClient
from dlms_cosem.cosem.obis import Obis
from dlms_cosem.parsers import AssociationObjectListParser
from dlms_cosem.utils import parse_as_dlms_data

import cosem_client as cc
from dlms import axdr

I = enumerations.CosemInterface


@pytest.fixture(scope="module")
def service():
    with cc.Service(optical=True) as s:
        yield s


def bounded(fn, timeout=30):
    """Run fn in a daemon thread; its result, or a failure after `timeout` seconds."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # reported in the test thread
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "client did not finish in time"
    if "error" in out:
        raise out["error"]
    return out["value"]


def attr(interface, text, n):
    return cosem.CosemAttribute(interface=interface, instance=Obis.from_string(text), attribute=n)


def test_dlms_cosem_public_client_session(service):
    def session():
        client = DlmsClient.with_tcp_transport("127.0.0.1", service.wrapper_port, 16, 1,
                                               timeout=5)
        out = {}
        with client.session() as c:
            out["clock"] = c.get(attr(I.CLOCK, "0.0.1.0.0.255", 2))
            out["ldn"] = c.get(attr(I.DATA, "0.0.42.0.0.255", 2))
            out["objects"] = c.get(attr(I.ASSOCIATION_LN, "0.0.40.0.0.255", 2))
            out["partners"] = c.get(attr(I.ASSOCIATION_LN, "0.0.40.0.0.255", 3))
            try:
                c.get(attr(I.REGISTER, "1.0.1.8.0.255", 2))
            except DataResultError as e:
                out["energy_error"] = str(e)
        return out

    out = bounded(session)
    clock = parse_as_dlms_data(out["clock"])
    assert axdr.unpack_datetime(clock)[:3] == (2026, 1, 15)
    assert parse_as_dlms_data(out["ldn"]) == b"ISK0000000000001"
    objects = AssociationObjectListParser.parse_entries(parse_as_dlms_data(out["objects"]))
    lns = {o.logical_name.to_string() for o in objects}
    assert {"0-0:1.0.0.255", "0-0:42.0.0.255", "0-0:40.0.0.255", "0-0:43.1.0.255"} <= lns
    assert not any(n.startswith("1-0:1.8") for n in lns)      # energy is not public (IDIS)
    assert parse_as_dlms_data(out["partners"]) == [16, 1]
    assert "OBJECT_UNDEFINED" in out["energy_error"]


def test_raw_refusals(service):
    c = cc.WrapperClient(service.wrapper_port)
    try:
        assert cc.aare_result(c.request(cc.aarq())) == (0, 0)
        # Write by the public client: read-write-denied.
        assert c.request(cc.set_(8, cc.obis("0-0:1.0.0"), 2, bytes.fromhex(
            "090C07EA010F040D000000FFC400"))) == bytes.fromhex("C501C103")
        assert c.request(cc.get(1, cc.obis("0-0:96.99.9"), 2)) == bytes.fromhex("C401C10104")
        assert c.request(bytes.fromhex("C0FFC1")) == bytes.fromhex("D80202")
        assert c.request(bytes.fromhex("C001")) == bytes.fromhex("D80103")
        assert c.request(cc.RLRQ) == bytes.fromhex("6303800100")
        assert c.request(cc.get(1, cc.obis("0-0:42.0.0"), 2)) == bytes.fromhex("D80101")
    finally:
        c.close()


def test_wrong_wrapper_version_closes_the_connection(service):
    c = cc.WrapperClient(service.wrapper_port)
    try:
        c.send_raw(bytes.fromhex("0002 0010 0001 0005") + cc.RLRQ)
        assert c.closed_by_peer()
    finally:
        c.close()


def test_concurrent_clients_keep_their_own_associations(service):
    clients = [cc.WrapperClient(service.wrapper_port) for _ in range(3)]
    try:
        assert cc.aare_result(clients[0].request(cc.aarq())) == (0, 0)
        assert cc.aare_result(clients[1].request(cc.aarq())) == (0, 0)
        # The third never associates: its requests are refused while the others are served.
        ldn = cc.get(1, cc.obis("0-0:42.0.0"), 2)
        assert clients[2].request(ldn) == bytes.fromhex("D80101")
        for c in clients[:2]:
            c.send(cc.get(15, cc.obis("0-0:40.0.0"), 2))
        firsts = [c.recv() for c in clients[:2]]
        lists = [cc.read_long(c.request, f) for c, f in zip(clients[:2], firsts)]
        assert lists[0] == lists[1] and len(lists[0]) > 100
        assert clients[0].request(cc.RLRQ) == bytes.fromhex("6303800100")
        assert clients[1].request(ldn)[:4] == bytes.fromhex("C401C100")
    finally:
        for c in clients:
            c.close()


def test_management_client_hls_gmac_reads_energy(service):
    title = cc.SERVICE_TITLE
    c = cc.WrapperClient(service.wrapper_port, client_sap=1)
    s = cc.Suite0Client()
    try:
        ctos = cc.random_challenge(32)
        aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE, auth_value=ctos,
                                 user_info=s.protect(0x21, cc.initiate_request())))
        assert cc.aare_result(aare) == (0, 14)
        fields = cc.aare_fields(aare)
        assert fields[0xA4][2:] == title
        s.server_title = title
        stoc = fields[0xAA][2:]
        tag, sc, initiate = s.unprotect(cc.aare_user_info(aare))
        assert tag == 0x28 and initiate[0] == 0x08
        tag, sc, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(
            15, cc.obis("0-0:40.0.0"), 1, b"\x09\x11" + s.hls_reply(stoc)))))
        assert rsp[:8] == bytes.fromhex("C701C10001000911")
        assert rsp[8:] == s.gmac(title, int.from_bytes(rsp[9:13], "big"), ctos)
        for text, cls in (("1-0:1.8.0", 3), ("1-0:32.7.0", 3)):
            tag, sc, rsp = s.unprotect(c.request(s.protect(0xC8, cc.get(cls, cc.obis(text), 2))))
            assert tag == 0xCC and rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        tag, sc, rsp = s.unprotect(c.request(s.protect(0xC8, cc.get(3, cc.obis("1-0:1.8.0"), 3))))
        assert rsp == bytes.fromhex("C401C1000202 0F00 161E".replace(" ", ""))
        for _ in range(50):     # until the first measuring window has closed
            tag, sc, rsp = s.unprotect(c.request(s.protect(
                0, cc.get(3, cc.obis("1-0:32.7.0"), 2), general=True)))
            assert tag == 0xDB and rsp[4] == axdr.LONG_UNSIGNED
            volts = int.from_bytes(rsp[5:7], "big") / 10
            if volts:
                break
            time.sleep(0.1)
        assert 225 < volts < 235      # the host board's default load: 230 V
        assert c.request(cc.RLRQ) == bytes.fromhex("6303800100")
    finally:
        c.close()


def test_dlms_cosem_management_client_hls_gmac(service):
    def session():
        client = DlmsClient.with_tcp_transport(
            "127.0.0.1", service.wrapper_port, 1, 1,
            authentication_method=enumerations.AuthenticationMechanism.HLS_GMAC,
            encryption_key=cc.EK, authentication_key=cc.AK, client_system_title=cc.CLIENT_TITLE,
            client_initial_invocation_counter=1000, timeout=5)
        with client.session() as c:
            return (c.get(attr(I.REGISTER, "1.0.1.8.0.255", 2)),
                    c.get(attr(I.REGISTER, "1.0.1.8.0.255", 3)),
                    c.get(attr(I.REGISTER, "1.0.32.7.0.255", 3)),
                    c.get(attr(I.ASSOCIATION_LN, "0.0.40.0.0.255", 2)))

    value, scaler_unit, volt_unit, objects = bounded(session)
    # The management object_list (about 7 KB) comes in ciphered datablocks.
    entries = AssociationObjectListParser.parse_entries(parse_as_dlms_data(objects))
    lns = {o.logical_name.to_string() for o in entries}
    assert len(entries) > 100 and "1-0:1.8.0.255" in lns and "0-0:43.0.0.255" in lns
    assert isinstance(parse_as_dlms_data(value), int)
    assert parse_as_dlms_data(scaler_unit) == [0, 30]       # Wh
    assert parse_as_dlms_data(volt_unit) == [-1, 35]        # 0.1 V
