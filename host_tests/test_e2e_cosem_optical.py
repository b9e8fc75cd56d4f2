"""End to end on the optical port (HDLC over a TCP socket on the host): mode E opening or a
direct SNRM, association, GET (segmented and block transfer), release, DISC."""
import pytest

import cosem_client as cc

LDN = cc.obis("0-0:42.0.0")


@pytest.fixture(scope="module")
def service():
    with cc.Service(optical=True) as s:
        yield s


def test_mode_e_opening_then_hdlc_session(service):
    c = cc.HdlcClient(service.optical_port)
    try:
        c.send_raw(b"/?!\r\n")
        assert c.recv_line() == b"/ISk5\\2ME382-1\r\n"
        c.send_raw(b"\x06252\r\n")
        ua = c.connect()
        assert ua.info[:3] == bytes.fromhex("818012")
        assert cc.aare_result(c.request(cc.aarq())) == (0, 0)
        assert c.request(cc.get(1, LDN, 2)) == bytes.fromhex("C401C1000910") + b"ISK0000000000001"
        first = c.request(cc.get(15, cc.obis("0-0:40.0.0"), 2))
        assert first[:2] == bytes.fromhex("C402") or len(first) > 128   # segmented or blocks
        objects = cc.read_long(c.request, first)
        assert objects[0] == 0x01 and LDN in objects
        assert c.request(cc.RLRQ) == bytes.fromhex("6303800100")
        assert c.request(cc.get(1, LDN, 2)) == bytes.fromhex("D80101")
        assert c.disconnect().control == 0x73
        # Back in the opening state: a new sign-on is answered.
        c.send_raw(b"/?!\r\n")
        assert c.recv_line().startswith(b"/ISk5")
    finally:
        c.close()


def test_direct_snrm_and_disc_ends_the_association(service):
    c = cc.HdlcClient(service.optical_port)
    try:
        c.connect()
        assert cc.aare_result(c.request(cc.aarq())) == (0, 0)
        assert c.disconnect().control == 0x73
        c.connect()
        assert c.request(cc.get(1, LDN, 2)) == bytes.fromhex("D80101")
        assert c.disconnect().control == 0x73
    finally:
        c.close()
