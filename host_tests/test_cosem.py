"""Object model core: interface classes, GET/SET/ACTION semantics and result codes, access
rights, association life cycle, object_list encoding byte for byte, table validation."""
import pytest
from hypothesis import given, strategies as st
from dlms_cosem.parsers import AssociationObjectListParser
from dlms_cosem.utils import parse_as_dlms_data

from cosem import access, association, dtype, errors, ic, obis, register
from cosem.association import AssociationLN, Client
from cosem.clock import Clock
from cosem.data import Data
from cosem.objects import Model
from cosem.ports import HdlcSetup
from cosem.profile import ProfileGeneric
from cosem.register import DemandRegister, ExtendedRegister, Register
from cosem.sap import SapAssignment
from cosem.security_setup import SecuritySetup
from cosem.sources import DictSources
from dlms import axdr

DT = axdr.pack_datetime(2024, 3, 15, 5, 12, 30, 45, 0, -60, 0)
WH = register.scaling(axdr.DOUBLE_LONG_UNSIGNED, 0, 30, 1000)
V = register.scaling(axdr.LONG_UNSIGNED, -1, 35, 100, ic.ROUND)
OPT = register.scaling(axdr.DOUBLE_LONG_UNSIGNED, 0, 30, 1000, ic.OPTIONAL)
SETTING = register.scaling(axdr.LONG_UNSIGNED, 0, 7)
CLOCK = (8, obis.parse("0-0:1.0.0"), 2, 0)
LP_ARG = ((CLOCK, (3, obis.parse("1-0:1.8.0"), 2, 0)), 1, None)

CLIENTS = (Client(16, "public", 1, 1, 0),
           Client(1, "management", 2, 3, 5, security_setup="0-0:43.0.0", conformance=0x00501F,
                  max_pdu=512))
RO = ("r*", "r*")
MGMT = (None, "r*")


def rows():
    yield "0-0:42.0.0", Data, "ldn", (axdr.OCTET_STRING, 3, 16), RO
    yield "0-0:96.1.0", Data, "serial", (axdr.OCTET_STRING, 0, 16), (None, "rb")
    yield "0-0:96.1.1", Data, "choice", None, (None, "rb")
    yield "1-0:1.8.0", Register, "e.A+", WH, (None, "rrr/x")
    yield "1-0:1.8.1", Register, "e.A+.t1", OPT, MGMT
    yield "1-0:32.7.0", Register, "u", V, (None, "rRr")
    yield "1-0:0.9.11", Register, "limit", SETTING, (None, "rbr")
    yield "1-0:1.6.0", ExtendedRegister, "md", WH, MGMT
    yield "1-0:1.4.0", DemandRegister, "dem", WH, (None, "rrrrrrrbb/xX")
    yield "1-0:99.1.0", ProfileGeneric, "lp", LP_ARG, (None, "rrrbrrrb/xx")
    yield "0-0:1.0.0", Clock, "clock", None, ("r*", "rbbrbbbbr/xxxxxx")
    yield "0-0:40.0.0", AssociationLN, None, None, ("r*", "rrrrrr-rr/x---")
    yield "0-0:40.0.1", AssociationLN, None, 0, (None, "r*")
    yield "0-0:40.0.2", AssociationLN, None, 1, (None, "r*")
    yield "0-0:41.0.0", SapAssignment, "ldn", None, RO
    yield "0-0:22.0.0", HdlcSetup, "hdlc", None, (None, "rbbbbbbbb")
    yield "0-0:43.0.0", SecuritySetup, "sec", None, (None, "rrrrr/xx")


class Provider:
    def __init__(self):
        self.asked = []

    def __call__(self, selector, params):
        self.asked.append((selector, params))
        rows = [(axdr.STRUCTURE, [(axdr.OCTET_STRING, DT), (axdr.DOUBLE_LONG_UNSIGNED, k)])
                for k in range(3)]
        return dtype.LazyArray(len(rows), iter(rows))


@pytest.fixture
def m():
    calls = []

    def act(name):
        return lambda arg: calls.append((name, arg))

    provider = Provider()
    values = {"ldn": b"ISK0001", "serial": b"12345678", "choice": (axdr.NULL, None),
              "e.A+": 1234567891, "u": 230049,
              "limit": 60, "md": 5000, "md.status": (axdr.UNSIGNED, 0), "md.capture_time": DT,
              "dem.current_average_value": 1499, "dem.last_average_value": 1500,
              "dem.status": (axdr.NULL, None), "dem.capture_time": DT,
              "dem.start_time_current": DT, "dem.period": 900, "dem.number_of_periods": 1,
              "lp.buffer": provider, "lp.capture_period": 900, "lp.entries_in_use": 3,
              "lp.profile_entries": 100, "clock.time": DT, "clock.time_zone": -60,
              "clock.status": 0, "clock.daylight_savings_begin": DT,
              "clock.daylight_savings_end": DT, "clock.daylight_savings_deviation": 60,
              "clock.daylight_savings_enabled": True, "clock.clock_base": 1,
              "hdlc.comm_speed": 5, "hdlc.window_size_transmit": 1,
              "hdlc.window_size_receive": 1, "hdlc.max_info_field_length_transmit": 128,
              "hdlc.max_info_field_length_receive": 128, "hdlc.inter_octet_time_out": 25,
              "hdlc.inactivity_time_out": 120, "hdlc.device_address": 17,
              "sec.security_policy": 3, "sec.security_suite": 0,
              "sec.client_system_title": b"MMM\x00\x00\x00\x00\x01",
              "sec.server_system_title": b"ISK\x00\x00\xbcaN"}
    names = ("e.A+.reset", "dem.reset", "dem.next_period", "lp.reset", "lp.capture",
             "sec.security_activate", "sec.global_key_transfer") + tuple(
        "clock." + e[0] for e in Clock.METHODS)
    model = Model(rows(), CLIENTS, DictSources(values=values,
                                               actions={n: act(n) for n in names}))
    model.calls = calls
    model.provider = provider
    return model


def find(view, code, class_id):
    return view.find(class_id, obis.parse(code))


def hls_ok(f_stoc):
    return b"\x10" + bytes(reversed(f_stoc))


@pytest.fixture
def mgmt(m):
    v = m.associate(1, hls=hls_ok)
    assert v.status == association.ASSOCIATION_PENDING
    assert v.action(find(v, "0-0:40.0.0", 15), 1, (axdr.OCTET_STRING, b"\x10\x01\x02")) == (
        errors.SUCCESS, (axdr.OCTET_STRING, b"\x10\x02\x01\x10"))
    assert v.status == association.ASSOCIATED
    return v


@pytest.fixture
def public(m):
    v = m.associate(16)
    assert v.status == association.ASSOCIATED
    return v


# ---------------------------------------------------------------- GET

def test_get_data_register_and_scaling(mgmt):
    assert mgmt.get(find(mgmt, "0-0:42.0.0", 1), 1) == (axdr.OCTET_STRING,
                                                        obis.parse("0-0:42.0.0"))
    assert type(mgmt.get(find(mgmt, "0-0:42.0.0", 1), 1)[1]) is bytes
    assert mgmt.get(find(mgmt, "0-0:42.0.0", 1), 2) == (axdr.OCTET_STRING, b"ISK0001")
    reg = find(mgmt, "1-0:1.8.0", 3)
    assert mgmt.get(reg, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 1234567)    # truncated, not rounded
    assert axdr.encode(mgmt.get(reg, 3)) == bytes.fromhex("02020F00161E")
    mgmt.secured = True
    assert mgmt.get(find(mgmt, "1-0:32.7.0", 3), 2) == (axdr.LONG_UNSIGNED, 2300)


def test_scale_rounds_halves_away_from_zero_or_truncates():
    assert [ic.scale(v, 10, True) for v in (14, 15, -14, -15, 0)] == [1, 2, -1, -2, 0]
    assert [ic.scale(v, 10, False) for v in (19, -19, 9)] == [1, -1, 0]
    assert ic.scale(-7, 1, True) == -7


def test_extended_and_demand_registers(mgmt):
    md = find(mgmt, "1-0:1.6.0", 4)
    assert [mgmt.get(md, n) for n in (2, 4, 5)] == [
        (axdr.DOUBLE_LONG_UNSIGNED, 5), (axdr.UNSIGNED, 0), (axdr.OCTET_STRING, DT)]
    dem = find(mgmt, "1-0:1.4.0", 5)
    assert [mgmt.get(dem, n) for n in (2, 3, 5, 8, 9)] == [
        (axdr.DOUBLE_LONG_UNSIGNED, 1), (axdr.DOUBLE_LONG_UNSIGNED, 1), (axdr.NULL, None),
        (axdr.DOUBLE_LONG_UNSIGNED, 900), (axdr.LONG_UNSIGNED, 1)]
    assert axdr.encode(mgmt.get(dem, 4)) == bytes.fromhex("02020F00161E")
    mgmt.set(dem, 8, (axdr.DOUBLE_LONG_UNSIGNED, 60))
    assert mgmt.model.sources.values["dem.period"] == 60
    with pytest.raises(errors.OtherReason):
        mgmt.set(dem, 9, (axdr.LONG_UNSIGNED, 0))


def test_clock_attributes(mgmt):
    clock = find(mgmt, "0-0:1.0.0", 8)
    assert [mgmt.get(clock, n) for n in range(2, 10)] == [
        (axdr.OCTET_STRING, DT), (axdr.LONG, -60), (axdr.UNSIGNED, 0), (axdr.OCTET_STRING, DT),
        (axdr.OCTET_STRING, DT), (axdr.INTEGER, 60), (axdr.BOOLEAN, True), (axdr.ENUM, 1)]


def test_sap_assignment_and_hdlc_setup(public, mgmt):
    sap = find(public, "0-0:41.0.0", 17)
    assert axdr.encode(public.get(sap, 2)) == bytes.fromhex(
        "01 01 02 02 12 00 01 09 07") + b"ISK0001"
    hdlc = find(mgmt, "0-0:22.0.0", 23)
    assert [mgmt.get(hdlc, n)[1] for n in range(2, 10)] == [5, 1, 1, 128, 128, 25, 120, 17]


def test_profile_generic_attributes_and_selective_access(mgmt, m):
    lp = find(mgmt, "1-0:99.1.0", 7)
    assert axdr.encode(mgmt.get(lp, 3)) == bytes.fromhex(
        "01 02 02 04 12 00 08 09 06 00 00 01 00 00 FF 0F 02 12 00 00"
        "   02 04 12 00 03 09 06 01 00 01 08 00 FF 0F 02 12 00 00")
    assert mgmt.get(lp, 5) == (axdr.ENUM, 1)
    assert axdr.encode(mgmt.get(lp, 6)) == bytes.fromhex("02 04 12 00 00 09 06" + "00" * 6 +
                                                         "0F 00 12 00 00")
    buf = mgmt.get(lp, 2)
    assert isinstance(buf, dtype.LazyArray) and buf.count == 3
    assert axdr.decode_all(b"".join(buf.chunks()))[1][2][1][1] == (axdr.DOUBLE_LONG_UNSIGNED, 2)
    entry = (axdr.STRUCTURE, [(axdr.DOUBLE_LONG_UNSIGNED, 1), (axdr.DOUBLE_LONG_UNSIGNED, 2),
                              (axdr.LONG_UNSIGNED, 1), (axdr.LONG_UNSIGNED, 0)])
    mgmt.get(lp, 2, 2, entry)
    assert m.provider.asked == [(None, None), (2, entry)]
    with pytest.raises(errors.ScopeViolated):
        mgmt.get(lp, 2, 3, entry)
    with pytest.raises(errors.ScopeViolated):
        mgmt.get(lp, 7, 1, entry)
    assert mgmt.action(lp, 2, (axdr.INTEGER, 0)) == (errors.SUCCESS, None)
    assert m.calls == [("lp.capture", (axdr.INTEGER, 0))]


def test_profile_provider_failures(mgmt, m):
    lp = find(mgmt, "1-0:99.1.0", 7)

    def refuse(selector, params):
        raise errors.AccessError("bad range", errors.OTHER_REASON)

    m.sources.values["lp.buffer"] = refuse
    with pytest.raises(errors.AccessError) as e:
        mgmt.get(lp, 2)
    assert e.value.result == errors.OTHER_REASON
    m.sources.values["lp.buffer"] = lambda s, p: 1 / 0
    with pytest.raises(errors.TemporaryFailure):
        mgmt.get(lp, 2)
    m.sources.values["lp.buffer"] = lambda s, p: [1, 2]
    with pytest.raises(errors.TemporaryFailure):
        mgmt.get(lp, 2)


def test_lazy_array_checks_its_count():
    with pytest.raises(ValueError):
        list(dtype.LazyArray(2, iter([(axdr.NULL, None)])))
    with pytest.raises(ValueError):
        list(dtype.LazyArray(0, iter([(axdr.NULL, None)])))
    assert dtype.LazyArray(1, iter([(axdr.NULL, None)])).data() == (axdr.ARRAY,
                                                                    [(axdr.NULL, None)])


# ---------------------------------------------------------------- refusals and result codes

def test_unknown_object_and_class_mismatch(public, mgmt):
    with pytest.raises(errors.ObjectUndefined) as e:
        mgmt.find(3, obis.parse("1-0:2.8.0"))
    assert e.value.result == 4
    with pytest.raises(errors.ClassInconsistent) as e:
        mgmt.find(4, obis.parse("1-0:1.8.0"))
    assert e.value.result == 9
    # An object the client does not see is undefined for it, whatever the class asked.
    for class_id in (3, 4):
        with pytest.raises(errors.ObjectUndefined):
            public.find(class_id, obis.parse("1-0:1.8.0"))
    with pytest.raises(errors.ObjectUndefined):
        mgmt.get(find(mgmt, "1-0:1.8.0", 3), 4)
    with pytest.raises(errors.ObjectUndefined):
        mgmt.get(find(mgmt, "1-0:1.8.0", 3), 0)
    assert mgmt.action(find(mgmt, "1-0:1.8.0", 3), 2) == (errors.OBJECT_UNDEFINED, None)


def test_access_modes_give_the_right_codes(public, mgmt, m):
    ldn = find(public, "0-0:42.0.0", 1)
    with pytest.raises(errors.ReadWriteDenied) as e:
        public.set(ldn, 2, (axdr.OCTET_STRING, b"ISKX"))
    assert e.value.result == 3
    u = find(mgmt, "1-0:32.7.0", 3)
    mgmt.secured = False
    with pytest.raises(errors.ScopeViolated) as e:       # 'R': authenticated read only
        mgmt.get(u, 2)
    assert e.value.result == 13
    mgmt.secured = True
    assert mgmt.get(u, 2)[1] == 2300
    dem = find(mgmt, "1-0:1.4.0", 5)
    mgmt.secured = False
    assert mgmt.action(dem, 2, None) == (errors.SCOPE_OF_ACCESS_VIOLATED, None)   # 'X'
    assert mgmt.action(dem, 1, (axdr.INTEGER, 0)) == (errors.SUCCESS, None)
    mgmt.secured = True
    assert mgmt.action(dem, 2, None) == (errors.SUCCESS, None)
    assert m.calls == [("dem.reset", (axdr.INTEGER, 0)), ("dem.next_period", None)]


def test_set_checks_the_type_before_anything_changes(mgmt, m):
    vals = m.sources.values
    serial = find(mgmt, "0-0:96.1.0", 1)
    with pytest.raises(errors.TypeUnmatched) as e:
        mgmt.set(serial, 2, (axdr.VISIBLE_STRING, b"x"))
    assert e.value.result == 12
    assert vals["serial"] == b"12345678"
    mgmt.set(serial, 2, (axdr.OCTET_STRING, b"87654321"))
    assert vals["serial"] == b"87654321"
    choice = find(mgmt, "0-0:96.1.1", 1)
    mgmt.set(choice, 2, (axdr.VISIBLE_STRING, b"x"))       # CHOICE value: any Data
    assert vals["choice"] == (axdr.VISIBLE_STRING, b"x")
    with pytest.raises(errors.TypeUnmatched):
        mgmt.set(choice, 2, (axdr.UNSIGNED, -1))
    clock = find(mgmt, "0-0:1.0.0", 8)
    for bad in ((axdr.OCTET_STRING, DT[:11]), (axdr.DATE_TIME, DT), (axdr.OCTET_STRING, 5),
                "junk", (axdr.OCTET_STRING,)):
        with pytest.raises((errors.TypeUnmatched, errors.OtherReason)):
            mgmt.set(clock, 2, bad)
    with pytest.raises(errors.OtherReason) as e:
        mgmt.set(clock, 3, (axdr.LONG, 721))
    assert e.value.result == 250
    with pytest.raises(errors.ReadWriteDenied):
        mgmt.set(clock, 4, (axdr.UNSIGNED, 0))            # status is read-only
    with pytest.raises(errors.ReadWriteDenied):
        mgmt.set(clock, 1, (axdr.OCTET_STRING, bytes(6)))
    with pytest.raises(errors.ScopeViolated):
        mgmt.set(clock, 2, (axdr.OCTET_STRING, DT), 1, (axdr.NULL, None))
    assert vals["clock.time"] == DT and vals["clock.time_zone"] == -60
    hdlc = find(mgmt, "0-0:22.0.0", 23)
    with pytest.raises(errors.OtherReason):
        mgmt.set(hdlc, 3, (axdr.UNSIGNED, 8))
    mgmt.set(hdlc, 3, (axdr.UNSIGNED, 7))
    assert vals["hdlc.window_size_transmit"] == 7


def test_register_set_multiplies_back_by_the_divisor(mgmt, m):
    limit = find(mgmt, "1-0:0.9.11", 3)
    mgmt.set(limit, 2, (axdr.LONG_UNSIGNED, 90))
    assert m.sources.values["limit"] == 90
    with pytest.raises(errors.TypeUnmatched):
        mgmt.set(limit, 2, (axdr.LONG_UNSIGNED, 70000))
    with pytest.raises(errors.ReadWriteDenied):
        mgmt.set(limit, 3, (axdr.STRUCTURE, [(axdr.INTEGER, 0), (axdr.ENUM, 7)]))


def test_binding_failures(mgmt, m):
    vals = m.sources.values
    reg = find(mgmt, "1-0:1.8.0", 3)
    for bad in ("text", None, True, 1 << 45):
        vals["e.A+"] = bad
        with pytest.raises(errors.TemporaryFailure) as e:
            mgmt.get(reg, 2)
        assert e.value.result == 2
    del vals["e.A+"]
    with pytest.raises(errors.TemporaryFailure):
        mgmt.get(reg, 2)
    assert mgmt.get(find(mgmt, "1-0:1.8.1", 3), 2) == (axdr.DOUBLE_LONG_UNSIGNED, 0)
    vals["ldn"] = "not bytes"
    with pytest.raises(errors.TemporaryFailure):
        mgmt.get(find(mgmt, "0-0:41.0.0", 17), 2)

    def refuse(value):
        raise ValueError("no")

    def explode(value):
        raise OSError("bus")

    def deny(value):
        raise errors.ReadWriteDenied("locked")

    clock = find(mgmt, "0-0:1.0.0", 8)
    for setter, code in ((refuse, 250), (explode, 2), (deny, 3)):
        m.sources.setters["clock.time"] = setter
        with pytest.raises(errors.AccessError) as e:
            mgmt.set(clock, 2, (axdr.OCTET_STRING, DT))
        assert e.value.result == code
    m.sources.actions["clock.shift_time"] = refuse
    assert mgmt.action(clock, 6, (axdr.LONG, 5)) == (errors.OTHER_REASON, None)
    m.sources.actions["clock.shift_time"] = lambda arg: "garbage"
    assert mgmt.action(clock, 6, (axdr.LONG, 5)) == (errors.TEMPORARY_FAILURE, None)
    m.sources.actions["clock.shift_time"] = lambda arg: (axdr.LONG, arg)
    assert mgmt.action(clock, 6, (axdr.LONG, 5)) == (errors.SUCCESS, (axdr.LONG, 5))
    assert mgmt.action(clock, 6, (axdr.LONG, 901)) == (errors.OTHER_REASON, None)
    assert mgmt.action(clock, 6, None) == (errors.TYPE_UNMATCHED, None)
    assert mgmt.action(clock, 1, "junk") == (errors.TYPE_UNMATCHED, None)


def test_one_access_error_with_one_set_of_result_codes(mgmt, m):
    from dlms import xdlms
    assert issubclass(errors.AccessError, xdlms.AccessError)
    for name in ("SUCCESS", "HARDWARE_FAULT", "TEMPORARY_FAILURE", "READ_WRITE_DENIED",
                 "OBJECT_UNDEFINED", "OBJECT_CLASS_INCONSISTENT", "OBJECT_UNAVAILABLE",
                 "TYPE_UNMATCHED", "SCOPE_OF_ACCESS_VIOLATED", "OTHER_REASON"):
        assert getattr(errors, name) == getattr(xdlms, name)
    # A source may raise the codec's AccessError (e.g. a selective-access check): its result
    # is the answer, on GET, SET and ACTION alike.
    def codec_refusal(*_):
        raise xdlms.AccessError("range", xdlms.DATA_BLOCK_UNAVAILABLE)

    clock = find(mgmt, "0-0:1.0.0", 8)
    del m.sources.values["clock.time_zone"]      # a name is a stored value or a getter
    m.sources.getters["clock.time_zone"] = codec_refusal
    m.sources.setters["clock.time"] = codec_refusal
    m.sources.actions["clock.shift_time"] = codec_refusal
    with pytest.raises(xdlms.AccessError) as e:
        mgmt.get(clock, 3)
    assert e.value.result == 14
    with pytest.raises(xdlms.AccessError) as e:
        mgmt.set(clock, 2, (axdr.OCTET_STRING, DT))
    assert e.value.result == 14
    assert mgmt.action(clock, 6, (axdr.LONG, 5)) == (14, None)


def test_dict_sources():
    s = DictSources(values={"a": 1}, getters={"b": lambda: 2}, setters={"b": lambda v: None},
                    actions={"c": lambda x: (axdr.UNSIGNED, x)})
    assert (s.read("a"), s.read("b"), s.call("c", 3)) == (1, 2, (axdr.UNSIGNED, 3))
    s.write("a", 5)
    s.write("b", 9)
    assert s.values == {"a": 5}
    for f, args in ((s.read, ("x",)), (s.write, ("x", 1)), (s.call, ("x", 1))):
        with pytest.raises(KeyError):
            f(*args)


# ---------------------------------------------------------------- associations

def test_pending_hls_association_allows_only_the_reply(m):
    v = m.associate(1, hls=lambda f: None)
    clock = find(v, "0-0:1.0.0", 8)
    with pytest.raises(errors.ReadWriteDenied):
        v.get(clock, 2)
    assert v.action(clock, 6, (axdr.LONG, 1)) == (errors.READ_WRITE_DENIED, None)
    assert v.action(find(v, "0-0:40.0.2", 15), 1, (axdr.OCTET_STRING, b"x"))[0] == 3
    cur = find(v, "0-0:40.0.0", 15)
    assert v.action(cur, 1, (axdr.OCTET_STRING, b"bad")) == (errors.READ_WRITE_DENIED, None)
    assert v.status == association.NON_ASSOCIATED
    with pytest.raises(errors.ReadWriteDenied):
        v.get(cur, 8)
    assert m.open == [0, 0]


def test_hls_reply_only_once_and_not_for_the_public_client(mgmt, public):
    cur = find(mgmt, "0-0:40.0.0", 15)
    assert mgmt.action(cur, 1, (axdr.OCTET_STRING, b"x"))[0] == errors.READ_WRITE_DENIED
    assert public.action(find(public, "0-0:40.0.0", 15), 1, (axdr.OCTET_STRING, b"x"))[0] == 3


def test_association_attributes_current_and_per_client(m, public, mgmt):
    cur = find(public, "0-0:40.0.0", 15)
    assert axdr.encode(public.get(cur, 3)) == bytes.fromhex("02020F10120001")
    assert axdr.encode(public.get(cur, 4)) == bytes.fromhex(
        "02 07 11 02 11 10 12 02 F4 11 05 11 08 11 01 11 01")
    assert axdr.encode(public.get(cur, 6)) == bytes.fromhex(
        "02 07 11 02 11 10 12 02 F4 11 05 11 08 11 02 11 00")
    assert public.get(cur, 8) == (axdr.ENUM, association.ASSOCIATED)
    assert public.get(cur, 9) == (axdr.OCTET_STRING, bytes(6))
    mcur = find(mgmt, "0-0:40.0.0", 15)
    assert axdr.encode(mgmt.get(mcur, 6))[-1] == 5
    assert mgmt.get(mcur, 9) == (axdr.OCTET_STRING, obis.parse("0-0:43.0.0"))
    with pytest.raises(errors.ReadWriteDenied):
        mgmt.get(mcur, 7)
    # Per-client instance: configuration, and whether that client is associated now.
    pub = find(mgmt, "0-0:40.0.1", 15)
    assert axdr.encode(mgmt.get(pub, 3)) == bytes.fromhex("02020F10120001")
    assert mgmt.get(pub, 8) == (axdr.ENUM, association.ASSOCIATED)
    assert m.open == [1, 1]
    public.release()
    public.release()
    assert m.open == [0, 1]
    assert mgmt.get(pub, 8) == (axdr.ENUM, association.NON_ASSOCIATED)
    with pytest.raises(errors.ReadWriteDenied):
        public.get(cur, 2)


def test_xdlms_context_info_negotiated_and_configured(m, mgmt):
    v = m.associate(16, conformance=0x00101D, max_receive_pdu=500, max_send_pdu=1200)
    assert axdr.encode(v.get(find(v, "0-0:40.0.0", 15), 5)) == bytes.fromhex(
        "02 06 04 18 00 10 1D 12 01 F4 12 04 B0 11 06 0F 00 09 00")
    assert axdr.encode(mgmt.get(find(mgmt, "0-0:40.0.2", 15), 5)) == bytes.fromhex(
        "02 06 04 18 00 50 1F 12 02 00 12 02 00 11 06 0F 00 09 00")


def test_unknown_client_sap(m):
    with pytest.raises(KeyError):
        m.associate(99)


def test_pre_established_client_is_associated_without_hls():
    c = Client(102, "pre", 3, 3, 0, pre_established=True)
    assert not c.needs_hls()
    assert Client(1, "m", 2, 3, 5).needs_hls() and not Client(16, "p", 1, 1, 0).needs_hls()
    with pytest.raises(ValueError):
        Client(0, "x", 4, 1, 0)


# ---------------------------------------------------------------- object_list

PUBLIC_LIST = (
    "01 04"
    # clock: 9 attributes read, 6 methods no access
    " 02 04 12 00 08 11 00 09 06 00 00 01 00 00 FF 02 02 01 09"
    + "".join(" 02 03 0F %02X 16 01 00" % n for n in range(1, 10)) +
    " 01 06" + "".join(" 02 02 0F %02X 16 00" % n for n in range(1, 7)) +
    # current association: attribute 7 (secret) no access
    " 02 04 12 00 0F 11 01 09 06 00 00 28 00 00 FF 02 02 01 09"
    + "".join(" 02 03 0F %02X 16 %02X 00" % (n, 0 if n == 7 else 1) for n in range(1, 10)) +
    " 01 04" + "".join(" 02 02 0F %02X 16 00" % n for n in range(1, 5)) +
    " 02 04 12 00 11 11 00 09 06 00 00 29 00 00 FF 02 02 01 02"
    " 02 03 0F 01 16 01 00 02 03 0F 02 16 01 00 01 01 02 02 0F 01 16 00"
    " 02 04 12 00 01 11 00 09 06 00 00 2A 00 00 FF 02 02 01 02"
    " 02 03 0F 01 16 01 00 02 03 0F 02 16 01 00 01 00")


def test_public_object_list_byte_for_byte(public):
    ol = public.get(find(public, "0-0:40.0.0", 15), 2)
    assert b"".join(ol.chunks()) == bytes.fromhex(PUBLIC_LIST)


def test_object_list_access_selectors_and_method_modes(mgmt):
    ol = axdr.decode_all(b"".join(mgmt.get(find(mgmt, "0-0:40.0.0", 15), 2).chunks()))
    entries = {bytes(e[1][2][1]): e[1] for e in ol[1]}
    lp = entries[obis.parse("1-0:99.1.0")]
    attrs, methods = lp[3][1]
    assert attrs[1][1][1][2] == (axdr.ARRAY, [(axdr.INTEGER, 1), (axdr.INTEGER, 2)])
    assert attrs[1][0][1][2] == (axdr.NULL, None)
    assert [a[1][1][1] for a in attrs[1]] == [1, 1, 1, 3, 1, 1, 1, 3]
    dem = entries[obis.parse("1-0:1.4.0")]
    assert dem[3][1][1][1] == [(axdr.STRUCTURE, [(axdr.INTEGER, 1), (axdr.ENUM, 1)]),
                               (axdr.STRUCTURE, [(axdr.INTEGER, 2), (axdr.ENUM, 2)])]
    u = entries[obis.parse("1-0:32.7.0")]
    assert [a[1][1][1] for a in u[3][1][0][1]] == [1, 4, 1]
    # sorted by logical name
    keys = [bytes(e[1][2][1]) for e in ol[1]]
    assert keys == sorted(keys) and len(keys) == 17


def test_object_list_parsed_by_dlms_cosem(mgmt):
    wire = b"".join(mgmt.get(find(mgmt, "0-0:40.0.0", 15), 2).chunks())
    items = AssociationObjectListParser.parse_entries(parse_as_dlms_data(wire))
    assert len(items) == 17
    lp = [i for i in items if i.logical_name.to_bytes() == obis.parse("1-0:99.1.0")][0]
    assert lp.attribute_access_rights[2].access_selectors == [1, 2]


# ---------------------------------------------------------------- table validation

def _model(*table, clients=CLIENTS):
    return Model(iter(table), clients, DictSources())


@pytest.mark.parametrize("row, message", [
    (("0-0:1.0.0", Clock, "c", None, ("r*",)), "one access spec per client"),
    (("0-0:1.0.0", Clock, "c", None, ("r*", "rr")), "does not fit"),
    (("0-0:1.0.0", Clock, "c", None, ("r*", "rbbbbbbbb")), "cannot grant"),
    (("0-0:40.0.0", AssociationLN, None, None, ("r*", "rrrrrrrrr/----")), "cannot grant"),
    (("0-0:1.0.0", Clock, "c", None, ("r*", "rrrrrrrrq")), "bad attribute access"),
    (("0-0:1.0.0", Clock, "c", None, ("r*", "rrrrrrrrr/xxxxxy")), "bad method access"),
    (("0-0:1.0.0", Clock, None, None, ("r*", "r*")), "needs a binding"),
    (("0-0:1.0.0", Clock, "c", 5, ("r*", "r*")), "no row argument"),
    (("1-0:1.8.0", Register, "e", (6, 0, 30), ("r*", "r*")), "Scale"),
    (("1-0:1.8.0", Register, "e", (9, 0, 30, 1, 0), ("r*", "r*")), "Scale"),
    (("1-0:99.1.0", ProfileGeneric, "lp", ((), 9, None), ("r*", "r*")), "profile argument"),
    (("1-0:99.1.0", ProfileGeneric, "lp", (((8, b"x", 2, 0),), 1, None), ("r*", "r*")),
     "capture object"),
    (("1-0:1.8", Data, "x", None, ("r*", "r*")), "bad OBIS"),
    ((b"\x01\x00", Data, "x", None, ("r*", "r*")), "6 octets"),
])
def test_bad_rows_are_refused_at_build_time(row, message):
    with pytest.raises(ValueError) as e:
        _model(row)
    assert message in str(e.value)


def test_duplicate_logical_names_are_refused():
    with pytest.raises(ValueError) as e:
        _model(("0-0:42.0.0", Data, "a", None, RO), ("0-0:42.0.0.255", Data, "b", None, RO))
    assert "duplicate" in str(e.value)


def test_equal_rows_share_their_tables():
    m = _model(*(((1, 0, 1, 8, t, 255), Register, "energy.A+.t%d" % t if t else "energy.A+",
                  WH, (None, "r*")) for t in range(9)))
    assert (m.size, len(m._args), len(m._profiles), len(m._prefixes), len(m._suffixes)) == (
        9, 1, 1, 2, 9)
    assert m.row(3)[ic.BIND] == "energy.A+.t3"
    assert [ic.source_name(r, "value", True) for r in m.rows()][:2] == ["energy.A+",
                                                                        "energy.A+.t1"]


def test_access_spec_helpers():
    assert access.resolve("r*", Clock) == (b"\x01" * 9, bytes(6))
    assert access.resolve("r*", AssociationLN)[0][6] == access.NO_ACCESS
    assert access.resolve("-rwbRWB", _Seven) == (bytes(range(7)), b"")
    assert access.resolve("rrr/X", Register) == (b"\x01\x01\x01", b"\x02")
    for mode, (r, w) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1), (1, 0), (0, 1), (1, 1))):
        assert (access.can_read(mode), access.can_write(mode)) == (bool(r), bool(w))


class _Seven(Data):
    ATTRS = Data.ATTRS + tuple(("a%d" % n, axdr.UNSIGNED, ic.W, None, None) for n in range(5))


def test_dtype_check():
    ok = [(None, (axdr.ARRAY, [])), (axdr.BOOLEAN, (axdr.BOOLEAN, False)),
          ((axdr.OCTET_STRING, 2, 4), (axdr.OCTET_STRING, b"abc")),
          ((axdr.ARRAY, axdr.UNSIGNED), (axdr.ARRAY, [(axdr.UNSIGNED, 1)] * 3)),
          ((axdr.STRUCTURE, (axdr.ENUM, None)), (axdr.STRUCTURE, [(axdr.ENUM, 1), (0, None)]))]
    for t, d in ok:
        dtype.check(t, d)
    type_errors = [(None, (axdr.UNSIGNED, 256)), (axdr.BOOLEAN, (axdr.BOOLEAN, 1)),
                   (axdr.UNSIGNED, (axdr.INTEGER, 1)), (axdr.UNSIGNED, 1),
                   ((axdr.ARRAY, axdr.UNSIGNED), (axdr.ARRAY, [(axdr.INTEGER, 1)])),
                   ((axdr.STRUCTURE, (axdr.ENUM,)), (axdr.STRUCTURE, [])),
                   ((axdr.ARRAY, axdr.UNSIGNED), (axdr.ARRAY, 5))]
    for t, d in type_errors:
        with pytest.raises(errors.TypeUnmatched):
            dtype.check(t, d)
    with pytest.raises(errors.OtherReason):
        dtype.check((axdr.OCTET_STRING, 2, 4), (axdr.OCTET_STRING, b"abcde"))
    with pytest.raises(errors.OtherReason):
        dtype.check((axdr.LONG, -5, 5), (axdr.LONG, 6))


_WRAP_TYPES = st.sampled_from([
    axdr.OCTET_STRING, axdr.VISIBLE_STRING, axdr.UTF8_STRING, (axdr.OCTET_STRING, 2, 6),
    (axdr.VISIBLE_STRING, 0, 3), axdr.LONG_UNSIGNED, (axdr.LONG, -5, 5), axdr.INTEGER,
    axdr.DOUBLE_LONG_UNSIGNED, (axdr.DOUBLE_LONG_UNSIGNED, 10, 1 << 31), axdr.LONG64, axdr.ENUM,
    axdr.BOOLEAN, None, (axdr.ARRAY, axdr.UNSIGNED), (axdr.STRUCTURE, (axdr.LONG,))])
_WRAP_VALUES = st.one_of(st.integers(-(1 << 65), 1 << 65), st.booleans(), st.binary(max_size=8),
                         st.text(max_size=4), st.none(), st.just((axdr.LONG, 3)))


@given(_WRAP_TYPES, _WRAP_VALUES)
def test_wrap_answers_as_dtype_from_source(t, value):
    def outcome(f):
        try:
            return f(t, value)
        except errors.AccessError as e:
            return type(e), e.result
    assert outcome(ic.wrap) == outcome(dtype.from_source)
