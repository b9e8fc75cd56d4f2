"""Demand and billing end to end: the firmware process under micropython, the management client
over the COSEM wrapper: maximum demand (class 4) value and capture time, the end of billing script
run by ACTION on 0-0:10.0.1 and seen in the billing period counter, a wrong script id and a bad
execution time refused with nothing changed. Values are also decoded with dlms_cosem."""
import pytest
from dlms_cosem.utils import parse_as_dlms_data

import cosem_client as cc
from dlms import axdr

MD = cc.obis("1-0:1.6.0")
LAST = cc.obis("1-0:1.5.0")
DEMAND = cc.obis("1-0:1.4.0")
COUNTER = cc.obis("0-0:0.1.0")
LAST_BILLING = cc.obis("0-0:0.1.2")
SCRIPTS = cc.obis("0-0:10.0.1")
SCHEDULE = cc.obis("0-0:15.0.0")


_Service = cc.ControlledService


class _Management:
    """A management association (HLS-GMAC, ciphered APDUs) over the wrapper."""

    def __init__(self, port):
        self.c, self.s = cc.management(port)

    def request(self, tag, apdu):
        return self.s.unprotect(self.c.request(self.s.protect(tag, apdu)))[2]

    def get_raw(self, cls, obj, attr):
        rsp = self.request(0xC8, cc.get(cls, obj, attr))
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return rsp[4:]

    def get(self, cls, obj, attr):
        return axdr.decode_all(self.get_raw(cls, obj, attr))

    def set(self, cls, obj, attr, data):
        rsp = self.request(0xC9, cc.set_(cls, obj, attr, axdr.encode(data)))
        assert rsp[:3] == bytes.fromhex("C501C1"), rsp.hex()
        return rsp[3]

    def act(self, cls, obj, method, data):
        rsp = self.request(0xCB, cc.action(cls, obj, method, axdr.encode(data)))
        assert rsp[:3] == bytes.fromhex("C701C1"), rsp.hex()
        return rsp[3]

    def close(self):
        self.c.close()


@pytest.fixture(scope="module")
def meter():
    with _Service() as svc:
        svc.ctl("load", set={"i": 10.0})
        svc.ctl("advance", seconds=2 * 3600)         # 13:00 .. 15:00 CET, tariff 2
        mgmt = _Management(svc.wrapper_port)
        try:
            yield svc, mgmt
        finally:
            mgmt.close()


def _quarter_hour(raw):
    # A date-time at a local quarter hour (hour, minute, second, hundredths at octets 5..8).
    return raw[6] % 15 == 0 and raw[7] == 0 and raw[1] in (0xE9, 0xEA)


def test_maximum_demand_value_and_capture_time(meter):
    _, m = meter
    value = m.get(4, MD, 2)
    assert value[0] == axdr.DOUBLE_LONG_UNSIGNED
    assert value[1] == pytest.approx(2300, rel=0.01)
    assert parse_as_dlms_data(m.get_raw(4, MD, 2)) == value[1]
    tag, ct = m.get(4, MD, 5)
    assert tag == axdr.OCTET_STRING and len(ct) == 12 and _quarter_hour(ct)
    assert m.get(4, MD, 3) == (axdr.STRUCTURE, [(axdr.INTEGER, 0), (axdr.ENUM, 27)])
    assert m.get(4, LAST, 2)[1] == pytest.approx(2300, rel=0.01)
    assert m.get(5, DEMAND, 8) == (axdr.DOUBLE_LONG_UNSIGNED, 900)
    assert m.get(5, DEMAND, 9) == (axdr.LONG_UNSIGNED, 1)


def test_end_of_billing_by_action_then_a_wrong_script_refused(meter):
    _, m = meter
    before = m.get(1, COUNTER, 2)[1]
    assert m.act(9, SCRIPTS, 1, (axdr.LONG_UNSIGNED, 1)) == 0
    assert m.get(1, COUNTER, 2) == (axdr.DOUBLE_LONG_UNSIGNED, before + 1)
    stamp = m.get(1, LAST_BILLING, 2)[1]
    assert stamp[:2] != b"\xff\xff" and stamp[5] in range(24)
    assert m.get(4, MD, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 0)      # maxima reset
    assert m.get(3, cc.obis("1-0:1.2.0"), 2)[1] == pytest.approx(2300, rel=0.01)
    assert m.act(9, SCRIPTS, 1, (axdr.LONG_UNSIGNED, 9)) == 250
    assert m.get(1, COUNTER, 2) == (axdr.DOUBLE_LONG_UNSIGNED, before + 1)
    scripts = parse_as_dlms_data(m.get_raw(9, SCRIPTS, 2))
    assert [s[0] for s in scripts] == [1, 2]


def test_bad_execution_time_refused_and_nothing_changed(meter):
    _, m = meter
    before = m.get_raw(22, SCHEDULE, 4)
    bad = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x19\x00\x00\x00"),
                                          (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])])
    assert m.set(22, SCHEDULE, 4, bad) == 250
    two = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x00\x00\x00\x00"),
                                          (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])] * 2)
    assert m.set(22, SCHEDULE, 4, two) == 250                      # type 1: one entry
    assert m.set(22, SCHEDULE, 3, (axdr.ENUM, 9)) == 250
    assert m.get_raw(22, SCHEDULE, 4) == before
    entries = parse_as_dlms_data(before)
    assert bytes(entries[0][1]) == b"\xff\xff\xff\x01\xff"          # 1st of every month
    assert m.get(22, SCHEDULE, 2) == (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS),
                                                       (axdr.LONG_UNSIGNED, 1)])
