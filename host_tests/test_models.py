"""The Mx382 object tables: every object, every attribute, every client; object_list content and
encoding (dlms-cosem parses it); units and scalers; refusals."""
import collections

import pytest
from dlms_cosem import enumerations
from dlms_cosem.parsers import AssociationObjectListParser
from dlms_cosem.utils import parse_as_dlms_data

import models
from core import dst
from cosem import access, dtype, errors, ic, obis, single_action_schedule
from cosem.association import ASSOCIATED
from cosem.profile import ProfileGeneric
from cosem.register import Register
from cosem.sources import DictSources
from dlms import axdr
from models import common

DT = axdr.pack_datetime(2024, 3, 15, 5, 12, 30, 45, 0, -60, 0)
# Class 22 execution times that suit the sample schedule type (1: exactly one entry): 00:00:00
# on the first day of every month.
EXECUTION_TIME = single_action_schedule.entries_data([((0, 0, 0), (0xFFFF, 0xFF, 1, 0xFF))])


def sample(t):
    """A valid source value of dtype description t (plain for simple types, else Data)."""
    if t is None:
        return axdr.UNSIGNED, 7
    if isinstance(t, int):
        t = (t, None, None)
    tag = t[0]
    if tag == axdr.ARRAY:
        return axdr.ARRAY, [_data(t[1])]
    if tag == axdr.STRUCTURE:
        return axdr.STRUCTURE, [_data(e) for e in t[1]]
    if tag == axdr.BOOLEAN:
        return True
    if tag in (axdr.OCTET_STRING, axdr.VISIBLE_STRING):
        if t[1] == 12 and t[2] == 12:
            return DT
        n = 8 if t[1] is None else max(t[1], min(t[2], 8))
        return bytes(range(0x41, 0x41 + n))
    return 0 if t[1] is None else t[1]


def _data(t):
    tag = dtype.tag_of(t)
    return sample(t) if tag is None else (tag, sample(t))


class SampleTable:
    """A profile buffer as cosem.profile reads it (len, instant, cells, dropped, rule): two rows
    of the same valid Data values, one per capture object."""

    clock_column = 0
    rule = dst.eu_rule()

    def __init__(self, cells):
        self._cells = cells
        self.dropped = 0

    def __len__(self):
        return 2

    def instant(self, i):
        return 763700000 + 900 * i

    def cells(self, i):
        if not 0 <= i < 2:
            raise IndexError(i)
        return list(self._cells)


def sample_table(model, row):
    """A SampleTable whose cells have the types of the capture objects of profile `row` (every
    capture object is an attribute of an object of the model)."""
    cells = []
    for class_id, ln, attr, _ in row[ic.ARG][0]:
        target = model.lookup(ln)
        assert target is not None and target[ic.IC].CLASS_ID == class_id, obis.text(ln)
        assert 1 <= attr <= len(target[ic.IC].ATTRS), obis.text(ln)
        cells.append(_data(target[ic.IC].attr_type(target, attr)))
    return SampleTable(cells)


def fake_sources(model, energy=123456789):
    """DictSources holding a valid value for every source the model reads or writes, and a
    recording action for every method it delegates."""
    values, calls, actions = {}, [], {}
    for row in model.rows():
        cls = row[ic.IC]
        if row[ic.BIND] is None:
            continue
        for n in range(1, len(cls.ATTRS) + 1):
            e = cls.ATTRS[n - 1]
            name = ic.source_name(row, e[0], e[2] & ic.MAIN)
            if cls is ProfileGeneric and e[0] == "buffer":
                values[name] = sample_table(model, row)
            elif e[2] & ic.SCALED:
                values[name] = {axdr.LONG: -857, axdr.LONG_UNSIGNED: 23000}.get(
                    row[ic.ARG][0], energy)
            elif cls.attr_type(row, n) is single_action_schedule.EXECUTION_TIME:
                values[name] = EXECUTION_TIME
            elif e[3] is None or e[2] & (ic.SOURCED | ic.W):
                values[name] = sample(cls.attr_type(row, n))
        for m in cls.METHODS:
            name = ic.source_name(row, m[0], False)
            actions[name] = lambda arg, name=name: calls.append((name, arg))
    values["id.ldn"] = b"ISK1030792957277"
    return DictSources(values=values, actions=actions), calls


@pytest.fixture(params=models.NAMES)
def model(request):
    m = models.load(request.param, DictSources())
    m.sources, m.calls = fake_sources(m)
    return m


def views(model):
    out = []
    for c in common.CLIENTS:
        v = model.associate(c.sap, hls=lambda f: b"\x10" + f[1:])
        if v.status != ASSOCIATED:
            assert v.action(v.find(15, obis.parse("0-0:40.0.0")), 1,
                            (axdr.OCTET_STRING, b"\x10abcd"))[0] == errors.SUCCESS
        out.append(v)
    return out


def materialise(value):
    return value.data() if hasattr(value, "chunks") else value


def test_every_attribute_of_every_object_for_every_client(model):
    checked = refused = buffers = 0
    for view in views(model):
        for row in model.rows():
            cls = row[ic.IC]
            rights = row[ic.ACC][view.ci]
            if rights is None:
                with pytest.raises(errors.ObjectUndefined):
                    view.find(cls.CLASS_ID, row[ic.LN])
                continue
            obj = view.find(cls.CLASS_ID, row[ic.LN])
            for n in range(1, len(cls.ATTRS) + 1):
                if access.can_read(rights[0][n - 1]):
                    data = materialise(view.get(obj, n))
                    wire = axdr.encode(data)
                    assert axdr.decode_all(wire, max_items=1 << 20) == _norm(data)
                    if cls is ProfileGeneric and n == 2:
                        width = len(row[ic.ARG][0])
                        assert data[0] == axdr.ARRAY and len(data[1]) == 2
                        assert all(r[0] == axdr.STRUCTURE and len(r[1]) == width
                                   for r in data[1])
                        buffers += 1
                    checked += 1
                else:
                    with pytest.raises(errors.ReadWriteDenied):
                        view.get(obj, n)
                    refused += 1
            with pytest.raises(errors.ObjectUndefined):
                view.get(obj, len(cls.ATTRS) + 1)
    assert checked > 800 and refused > 10
    assert buffers == sum(1 for r in model.rows() if r[ic.IC] is ProfileGeneric for ci in
                          range(len(common.CLIENTS)) if r[ic.ACC][ci] is not None and
                          access.can_read(r[ic.ACC][ci][0][1])) > 0


def _norm(data):
    tag, v = data
    if tag in (axdr.ARRAY, axdr.STRUCTURE):
        return tag, [_norm(x) for x in v]
    if isinstance(v, str):
        return tag, v.encode()
    return tag, v


def test_object_list_of_each_client_parses_and_matches_the_table(model):
    for view in views(model):
        ol = view.get(view.find(15, obis.parse("0-0:40.0.0")), 2)
        wire = b"".join(ol.chunks())
        data = axdr.decode_all(wire, max_items=1 << 20)
        visible = [r for r in model.rows() if r[ic.ACC][view.ci] is not None]
        assert data[0] == axdr.ARRAY and len(data[1]) == len(visible) == model.counts[view.ci]
        parsed = AssociationObjectListParser.parse_entries(parse_as_dlms_data(wire))
        for item, row in zip(parsed, visible):
            cls = row[ic.IC]
            assert item.interface == enumerations.CosemInterface(cls.CLASS_ID)
            assert item.version == cls.VERSION
            assert item.logical_name.to_bytes() == row[ic.LN]
            modes, methods = row[ic.ACC][view.ci]
            assert sorted(item.attribute_access_rights) == list(range(1, len(cls.ATTRS) + 1))
            assert sorted(item.method_access_rights) == list(range(1, len(cls.METHODS) + 1))
            for n, right in item.attribute_access_rights.items():
                # v1 modes 0..3 are read (bit 0) and write (bit 1) in dlms-cosem's reading.
                assert bool(right.access_rights and 0 in right.access_rights) == \
                    access.can_read(modes[n - 1])
                assert (1 in right.access_rights) == access.can_write(modes[n - 1])


def test_public_client_sees_the_idis_minimum(model):
    public = views(model)[common.PUBLIC]
    seen = sorted(obis.text(r[ic.LN]) for r in model.rows() if r[ic.ACC][public.ci] is not None)
    assert seen == ["0-0:1.0.0*255", "0-0:40.0.0*255", "0-0:40.0.1*255", "0-0:41.0.0*255",
                    "0-0:42.0.0*255", "0-0:43.1.0*255", "0-0:96.3.10*255"]
    # Disconnect control (docs/disconnect.md): the public client reads output_state and
    # control_state, neither control_mode nor any method.
    dc = public.find(70, obis.parse("0-0:96.3.10"))
    assert public.get(dc, 2)[0] == axdr.BOOLEAN and public.get(dc, 3)[0] == axdr.ENUM
    with pytest.raises(errors.ReadWriteDenied):
        public.get(dc, 4)
    for m in (1, 2):
        assert public.action(dc, m, (axdr.INTEGER, 0)) == (errors.READ_WRITE_DENIED, None)
    assert model.calls == []


def test_management_sees_everything_and_each_association(model):
    mgmt = views(model)[common.MANAGEMENT]
    assert model.counts[mgmt.ci] == model.size
    for ci, c in enumerate(common.CLIENTS):
        obj = mgmt.find(15, c.ln)
        assert mgmt.get(obj, 3) == (axdr.STRUCTURE, [(axdr.INTEGER, c.sap),
                                                     (axdr.LONG_UNSIGNED, 1)])
        assert materialise(mgmt.get(obj, 2))[1][0][0] == axdr.STRUCTURE
        assert model.object_list(ci).count == model.counts[ci]


def test_energy_registers_expose_whole_wh(model):
    view = views(model)[common.MANAGEMENT]
    model.sources.values["energy.A+"] = 123456789     # mWh
    reg = view.find(3, obis.parse("1-0:1.8.0"))
    assert view.get(reg, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 123456)
    assert axdr.encode(view.get(reg, 3)) == bytes.fromhex("02020F00161E")
    model.sources.values["energy.NET"] = -1999
    net = view.find(3, obis.parse("1-0:16.8.0"))
    assert view.get(net, 2) == (axdr.DOUBLE_LONG, -1)


def test_tariff_registers_read_zero_until_their_source_exists(model):
    view = views(model)[common.MANAGEMENT]
    for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16):
        for t in range(1, 9):
            name = "energy.%s.t%d" % ({1: "A+", 2: "A-", 3: "R+", 4: "R-", 5: "QI", 6: "QII",
                                       7: "QIII", 8: "QIV", 9: "S+", 10: "S-", 15: "ABS",
                                       16: "NET"}[c], t)
            del model.sources.values[name]
            obj = view.find(3, bytes((1, 0, c, 8, t, 255)))
            assert view.get(obj, 2)[1] == 0
    del model.sources.values["energy.A+"]
    with pytest.raises(errors.TemporaryFailure):
        view.get(view.find(3, obis.parse("1-0:1.8.0")), 2)


@pytest.mark.parametrize("code, name, value, expected", [
    ("1-0:32.7.0", "inst.u.1", 230049, (axdr.LONG_UNSIGNED, 2300)),
    ("1-0:32.7.0", "inst.u.1", 230050, (axdr.LONG_UNSIGNED, 2301)),
    ("1-0:31.7.0", "inst.i.1", 5004, (axdr.LONG_UNSIGNED, 500)),
    ("1-0:14.7.0", "inst.f", 4998, (axdr.LONG_UNSIGNED, 4998)),
    ("1-0:13.7.0", "inst.pf", -857, (axdr.LONG, -857)),
    ("1-0:1.7.0", "inst.p+", 1150499, (axdr.DOUBLE_LONG_UNSIGNED, 1150)),
    ("1-0:16.7.0", "inst.net", -1150500, (axdr.DOUBLE_LONG, -1151)),
])
def test_instantaneous_values_scaled_to_the_exposed_unit(model, code, name, value, expected):
    view = views(model)[common.MANAGEMENT]
    model.sources.values[name] = value
    assert view.get(view.find(3, obis.parse(code)), 2) == expected


SCALERS = {"1-0:32.7.0": "0F FF 16 23", "1-0:31.7.0": "0F FE 16 21", "1-0:14.7.0": "0F FE 16 2C",
           "1-0:13.7.0": "0F FD 16 FF", "1-0:1.7.0": "0F 00 16 1B", "1-0:3.7.0": "0F 00 16 1D",
           "1-0:9.7.0": "0F 00 16 1C", "1-0:3.8.0": "0F 00 16 20", "1-0:9.8.1": "0F 00 16 1F"}


@pytest.mark.parametrize("code", sorted(SCALERS))
def test_scaler_units(model, code):
    view = views(model)[common.MANAGEMENT]
    wire = axdr.encode(view.get(view.find(3, obis.parse(code)), 3))
    assert wire == bytes.fromhex("02 02 " + SCALERS[code])


def test_three_phase_objects_only_on_mt382():
    me = models.load("me382", DictSources())
    mt = models.load("mt382", DictSources())
    for code in ("1-0:52.7.0", "1-0:72.7.0", "1-0:21.8.0", "1-0:41.8.0", "1-0:75.8.0",
                 "1-0:90.7.0", "1-0:41.7.0", "1-0:73.7.0"):
        assert me.lookup(obis.parse(code)) is None
        assert mt.lookup(obis.parse(code)) is not None
    for code in ("1-0:32.7.0", "1-0:31.7.0", "1-0:91.7.0", "1-0:16.8.8", "0-0:42.0.0"):
        assert me.lookup(obis.parse(code)) is not None
    # Table 15: 12 quantities x (total + 8 tariffs), plus 7 x 3 per-phase registers on MT382
    energy = [r for r in mt.rows() if r[ic.IC] is Register and r[ic.LN][0] == 1 and
              r[ic.LN][3] == 8]
    assert len(energy) == 12 * 9 + 21


def test_clock_time_set_by_management_goes_through_the_binding(model):
    public, mgmt, pre = views(model)
    clock_ln = obis.parse("0-0:1.0.0")
    new = axdr.pack_datetime(2025, 1, 2, 4, 3, 4, 5, 0, -60, 0)
    mgmt.set(mgmt.find(8, clock_ln), 2, (axdr.OCTET_STRING, new))
    assert model.sources.values["clock.time"] == new
    assert public.get(public.find(8, clock_ln), 2) == (axdr.OCTET_STRING, new)
    for v in (public, pre):
        with pytest.raises(errors.ReadWriteDenied):
            v.set(v.find(8, clock_ln), 2, (axdr.OCTET_STRING, DT))
    assert model.sources.values["clock.time"] == new


def test_public_action_and_set_are_read_write_denied(model):
    public = views(model)[common.PUBLIC]
    clock = public.find(8, obis.parse("0-0:1.0.0"))
    assert public.action(clock, 6, (axdr.LONG, 10)) == (errors.READ_WRITE_DENIED, None)
    assert model.calls == []
    mgmt = views(model)[common.MANAGEMENT]
    assert mgmt.action(mgmt.find(8, clock[ic.LN]), 6, (axdr.LONG, 10)) == (errors.SUCCESS, None)
    assert model.calls == [("clock.shift_time", 10)]


def test_security_setup_methods_delegated_and_keys_never_stored(model):
    mgmt = views(model)[common.MANAGEMENT]
    sec = mgmt.find(64, obis.parse("0-0:43.0.0"))
    keys = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.ENUM, 0), (axdr.OCTET_STRING, b"k" * 24)])])
    assert mgmt.action(sec, 2, keys) == (errors.SUCCESS, None)
    assert mgmt.action(sec, 1, (axdr.ENUM, 3)) == (errors.SUCCESS, None)
    assert model.calls == [("sec0.global_key_transfer", keys), ("sec0.security_activate", 3)]
    assert mgmt.action(sec, 1, (axdr.ENUM, 4))[0] == errors.OTHER_REASON
    assert mgmt.action(sec, 2, (axdr.OCTET_STRING, b"k"))[0] == errors.TYPE_UNMATCHED
    assert len(model.calls) == 2
    for n in range(1, 6):
        assert b"k" * 24 not in axdr.encode(mgmt.get(sec, n))


def test_secrets_never_readable(model):
    mgmt = views(model)[common.MANAGEMENT]
    for code, cls, attrs in (("0-0:40.0.0", 15, (7,)), ("0-0:40.0.2", 15, (7,)),
                             ("0-0:20.0.0", 19, (7, 8, 9))):
        obj = mgmt.find(cls, obis.parse(code))
        for n in attrs:
            with pytest.raises(errors.ReadWriteDenied):
                mgmt.get(obj, n)


def test_source_names_are_exactly_what_the_fake_needs(model):
    names = model.source_names()
    assert "energy.A+.t8" in names and "clock.time" in names and "sec0.security_activate" in names
    assert "energy.A+.reset" not in names        # nobody may reset an energy register
    provided = set(model.sources.values) | set(model.sources.actions)
    assert set(names) <= provided


def test_settings_defaults_cover_the_communication_setups(model):
    names = {n for n in model.source_names() if n.split(".")[0] in ("iec", "hdlc", "tcp")}
    assert names == set(common.SETTINGS)
    view = views(models.load("mt382", DictSources(values=dict(common.SETTINGS))))[
        common.MANAGEMENT]
    assert view.get(view.find(23, obis.parse("0-0:22.0.0")), 9) == (axdr.LONG_UNSIGNED, 17)


def test_management_writes_every_writable_attribute_back(model):
    mgmt = views(model)[common.MANAGEMENT]
    written = collections.Counter()
    for row in model.rows():
        cls = row[ic.IC]
        obj = mgmt.find(cls.CLASS_ID, row[ic.LN])
        for n in range(1, len(cls.ATTRS) + 1):
            if not access.can_write(row[ic.ACC][mgmt.ci][0][n - 1]):
                continue
            e = cls.ATTRS[n - 1]
            name = ic.source_name(row, e[0], e[2] & ic.MAIN)
            value = _data(cls.attr_type(row, n)) if cls.secret(n) else mgmt.get(obj, n)
            model.sources.values[name] = None
            mgmt.set(obj, n, value)
            if e[2] & ic.SCALED:
                # A register value goes back to the source in the internal unit (x divisor).
                assert model.sources.values[name] == value[1] * row[ic.ARG][3]
            else:
                assert model.sources.values[name] == dtype.to_source(cls.attr_type(row, n),
                                                                     value)
            if not cls.secret(n):
                assert materialise(mgmt.get(obj, n)) == materialise(value)
            written[cls.CLASS_ID] += 1
    phases = 3 if model.lookup(obis.parse("1-0:52.7.0")) is not None else 1
    assert written == {
        8: 6,           # clock
        3: 8,           # time-shift limit, power failure threshold, 3 voltage and 3 time
                        # thresholds of power quality
        19: 8, 23: 8, 41: 5,                # IEC port, HDLC and TCP-UDP setups
        20: 5, 11: 1,                       # activity calendar, special days
        5: 6 * 2,       # demand registers: period, number_of_periods
        7: 2 * 2 + 14,  # load profiles 1 and 2: capture_period, profile_entries; 2 billing
                        # profiles and 12 logs: profile_entries
        1: 1 + 3 + 6 + 2,   # tariff switch source; error register, its IE copy and filter;
                            # alarm registers, filters and descriptors 1 and 2; load profile
                            # options 1 and 2
        22: 2 + 3 + 2,  # billing and push schedules: type, execution_time; disconnect
                        # schedule: executed_script too
        40: 3 * 6,      # push setups connect, interval, alarm
        70: 1, 71: 8,   # disconnect control_mode, limiter
        21: 2 * (phases + 1),               # supervision per phase and overvoltage monitors
    }                   # 121 attributes on the ME382, 125 on the MT382
