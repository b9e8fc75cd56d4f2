"""Tariffication control (runtime/tariff_service.py, cosem/register_activation.py,
models/tariff_control.py; docs/tariffs.md): manual tariff activation by the tariffication script
table 0-0:10.0.100, the tariff switch source 0-0:96.14.128, the register activation objects
0-0:14.0.1 / 0-0:14.0.2. Core and service in-process (CPython), COSEM sans-IO, and the firmware
process end to end."""
import asyncio

import pytest

import cosem_client as cc
import hw
from core import calendar, civil, dst, special_days, tariff
from cosem import errors
from cosem.register_activation import RegisterActivation, argument
from dlms import axdr
from models import tariff_control as tc
from runtime import cosem_service, tariff_service as ts
from runtime import meter as meter_mod
from runtime.time_of_use import default_calendar
from test_clock_set import associate, ciphered

# Thursday 2026-01-15 12:00 UTC = 13:00 CET: tariff 2 (day) until 22:00 CET (21:00 UTC).
START = civil.to_epoch(2026, 1, 15, 12, 0, 0)
NIGHT = civil.to_epoch(2026, 1, 15, 21, 0, 0)
A_PLUS = 0
ENERGY_ACT = cc.obis("0-0:14.0.1")
DEMAND_ACT = cc.obis("0-0:14.0.2")
SCRIPTS = cc.obis("0-0:10.0.100")
SOURCE = cc.obis("0-0:96.14.128")
TARIFF = cc.obis("0-0:96.14.0")
OS, LU, S, A, U, E = (axdr.OCTET_STRING, axdr.LONG_UNSIGNED, axdr.STRUCTURE, axdr.ARRAY,
                      axdr.UNSIGNED, axdr.ENUM)


# ------------------------------------------------------------------ core

def tou():
    return tariff.TimeOfUse(default_calendar(), special_days.SpecialDays(), dst.eu_rule(-60))


def test_manual_state_round_trips_through_the_record():
    t = tou()
    t.execute_script(5, START)
    state = t.manual_state()
    assert state == (tariff.SOURCE_CALENDAR, 5, (5, START, NIGHT))
    assert ts.unpack(ts.pack(state)) == state
    again = tou()
    again.restore_manual(*ts.unpack(ts.pack(state)))
    assert [again.active_tariff(x) for x in (START - 1, START, NIGHT - 1, NIGHT)] == [2, 5, 5, 1]
    t.set_source(tariff.SOURCE_MANUAL)
    assert ts.unpack(ts.pack(t.manual_state())) == (tariff.SOURCE_MANUAL, 5, None)


@pytest.mark.parametrize("state", [
    (3, 1, None), (0, 0, None), (0, 9, None), (1, 1, (0, START, None)),
    (0, 1, (2, START, START)),
])
def test_invalid_states_are_refused_and_change_nothing(state):
    t = tou()
    t.execute_script(4, START)
    before = t.manual_state()
    with pytest.raises(calendar.CalendarError):
        t.restore_manual(*state)
    assert t.manual_state() == before


@pytest.mark.parametrize("raw", [b"", b"\x01" * 11, b"\x02" + b"\x00" * 11])
def test_unusable_records_are_refused(raw):
    with pytest.raises(ValueError):
        ts.unpack(raw)


def test_register_activation_arguments_are_checked():
    ok = argument([(3, "1-0:1.8.1"), (3, "1-0:1.8.2")], [(b"T1", (1,)), (b"T2", (2,))])
    assert ok[0][0] == (3, bytes((1, 0, 1, 8, 1, 255)))
    for regs, masks in (([(3, "1-0:1.8.1")], [(b"T1", (2,))]),
                        ([(3, "1-0:1.8.1")], [(b"T1", (1,)), (b"T1", (1,))]),
                        ([(3, b"\x01")], [])):
        with pytest.raises(ValueError):
            argument(regs, masks)
    with pytest.raises(ValueError):
        RegisterActivation.check_arg(((), ()) + ((),))


def test_masks_select_the_registers_of_one_tariff():
    regs, masks = tc.ENERGY_ARG
    assert len(regs) == 12 * 8 and [m[0] for m in masks] == [b"T%d" % t for t in range(1, 9)]
    for name, idx in masks:
        t = int(name[1:])
        assert sorted(regs[i - 1][1][4] for i in idx) == [t] * 12
        assert all(regs[i - 1][0] == 3 and regs[i - 1][1][3] == 8 for i in idx)
    regs, masks = tc.DEMAND_ARG
    assert all(r[0] == 4 and r[1][3] == 6 for r in regs)
    assert [regs[i - 1][1][2:5] for i in masks[2][1]][:2] == [bytes((1, 6, 3)), bytes((2, 6, 3))]


# ------------------------------------------------------------------ the service in the Meter

@pytest.fixture(autouse=True)
def sleep_ms(monkeypatch):
    """The MicroPython asyncio call the Meter uses, on CPython's asyncio."""
    monkeypatch.setattr(asyncio, "sleep_ms", lambda ms: asyncio.sleep(ms / 1000), raising=False)


def new_board():
    return hw.Board("me382", {"state_dir": None, "realtime": False, "start": START,
                              "block_frames": 200})


def run(body, board=None):
    """body(meter, service, board) inside an event loop, on a booted ME382 with a load."""
    async def main():
        b = board or new_board()
        b.afe.configure(None, u=230, i=10, phi=0)
        m = boot(b)
        try:
            await body(m, service(m), b)
        finally:
            if meter_mod.current is not None and meter_mod.current.powered:
                meter_mod.current.power_off(hard=True)
    asyncio.run(main())


def boot(board):
    m = meter_mod.Meter(board, {"model": "me382"})
    m.power_on_sync()
    return m


def service(m):
    return [s for s in m.services if isinstance(s, ts.TariffService)][0]


def check_sums(m):
    regs = m.tariff_regs.regs
    for q in range(len(m.energy_regs.total)):
        assert sum(r[q] for r in regs) == m.energy_regs.total[q]


def test_script_activates_a_tariff_until_the_calendars_next_switch():
    async def body(m, svc, board):
        assert m.active_tariff() == 2
        await m.advance(600)
        before = list(m.tariff_regs.regs[1])
        svc.execute(3)
        assert m.active_tariff() == 3
        await m.advance(3600)
        regs = m.tariff_regs.regs
        assert regs[1] == before                     # nothing more for tariff 2
        assert regs[2][A_PLUS] == pytest.approx(2300 * 1000, rel=0.01)   # 1 h at 2.3 kW
        check_sums(m)
        await m.advance(NIGHT - board.clock.now() + 60)
        assert m.active_tariff() == 1                # the calendar's 22:00 switch takes over
        check_sums(m)
    run(body)


def test_manual_source_holds_the_tariff_and_survives_a_reboot():
    async def body(m, svc, board):
        svc.set_source(tariff.SOURCE_MANUAL)
        assert m.active_tariff() == 2                # the tariff in force stays
        await m.advance(NIGHT - START + 3600)
        assert m.active_tariff() == 2                # no calendar switch at 22:00
        svc.execute(6)
        await m.advance(1800)
        assert m.tariff_regs.regs[5][A_PLUS] > 0
        m.power_off()
        m2 = boot(board)
        assert m2.tou.source == tariff.SOURCE_MANUAL and m2.active_tariff() == 6
        svc2 = service(m2)
        svc2.set_source(tariff.SOURCE_CALENDAR)
        assert m2.active_tariff() == 1               # 23:00 CET: night
        check_sums(m2)
    run(body)


def test_an_override_survives_a_reboot_and_ends_on_time():
    async def body(m, svc, board):
        svc.execute(7)
        m.power_off()
        board.clock.set(START + 3600)
        m2 = boot(board)
        assert m2.active_tariff() == 7
        await m2.advance(NIGHT - board.clock.now() + 1)
        assert m2.active_tariff() == 1
    run(body)


def test_refused_changes_leave_everything_as_it_was():
    async def body(m, svc, board):
        svc.execute(4)
        raw = m.store.read(ts.KEY)
        state = m.tou.manual_state()
        with pytest.raises(errors.OtherReason):
            svc.set_source(tariff.SOURCE_EXTERNAL)   # no external tariff input on this meter
        with pytest.raises(errors.OtherReason):
            svc.execute(9)
        write = m.store.write

        def failing(key, data):
            raise OSError(5, "EIO")
        m.store.write = failing
        with pytest.raises(OSError):
            svc.execute(5)
        with pytest.raises(OSError):
            svc.set_source(tariff.SOURCE_MANUAL)
        m.store.write = write
        assert m.tou.manual_state() == state and m.store.read(ts.KEY) == raw
        assert m.active_tariff() == 4
    run(body)


def test_an_unusable_record_leaves_the_calendar_in_charge():
    async def body(m, svc, board):
        svc.set_source(tariff.SOURCE_MANUAL)
        m.store.write(ts.KEY, b"\x01\x07" + b"\x00" * 10)   # source 7
        m.power_off()
        m2 = boot(board)
        assert m2.tou.source == tariff.SOURCE_CALENDAR and m2.active_tariff() == 2
    run(body)


# ------------------------------------------------------------------ COSEM (sans-IO)

def test_tariff_control_objects_over_cosem():
    async def body(m, svc, board):
        app, _ = cosem_service.build(m)
        conn, s = associate(app)

        def request(apdu):
            return ciphered(conn, s, apdu, 0xC8)

        def get(obj, cls, attr):
            return axdr.decode_all(cc.read_long(request, request(cc.get(cls, obj, attr))))

        def set_(obj, cls, attr, data):
            return ciphered(conn, s, cc.set_(cls, obj, attr, axdr.encode(data)), 0xC9)[3]

        def act(obj, cls, method, data):
            rsp = ciphered(conn, s, cc.action(cls, obj, method, axdr.encode(data)), 0xCB)
            return rsp[3]

        assigned = get(ENERGY_ACT, 6, 2)
        assert len(assigned[1]) == 96
        assert assigned[1][0] == (S, [(LU, 3), (OS, bytes((1, 0, 1, 8, 1, 255)))])
        masks = get(ENERGY_ACT, 6, 3)
        assert masks[1][2] == (S, [(OS, b"T3"), (A, [(U, i) for i in range(25, 37)])])
        assert get(ENERGY_ACT, 6, 4) == (OS, b"T2") and get(DEMAND_ACT, 6, 4) == (OS, b"T2")
        assert len(get(DEMAND_ACT, 6, 2)[1]) == 48
        scripts = get(SCRIPTS, 9, 2)
        assert [sc[1][0] for sc in scripts[1]] == [(LU, t) for t in range(1, 9)]
        assert get(SOURCE, 1, 2) == (E, 0)
        assert act(SCRIPTS, 9, 1, (LU, 3)) == 0
        assert get(TARIFF, 1, 2) == (LU, 3) and get(ENERGY_ACT, 6, 4) == (OS, b"T3")
        assert act(SCRIPTS, 9, 1, (LU, 9)) == 250           # no script 9
        assert act(SCRIPTS, 9, 1, (U, 3)) == 12             # wrong type
        # Fixed lists: the methods are refused, and active_mask cannot be written.
        assert act(ENERGY_ACT, 6, 3, (OS, b"T1")) == 3
        assert set_(ENERGY_ACT, 6, 4, (OS, b"T1")) == 3
        assert set_(SOURCE, 1, 2, (E, 2)) == 250
        assert set_(SOURCE, 1, 2, (E, 1)) == 0
        assert get(SOURCE, 1, 2) == (E, 1) and get(TARIFF, 1, 2) == (LU, 3)
        await m.advance(NIGHT - board.clock.now() + 600)
        assert get(TARIFF, 1, 2) == (LU, 3)
        assert set_(SOURCE, 1, 2, (E, 0)) == 0
        assert get(TARIFF, 1, 2) == (LU, 1)
    run(body)


# ------------------------------------------------------------------ end to end

ServiceWithControl = cc.ControlledService
management = cc.management
Conn = cc.WrapperConn


def get(conn, s, obj, cls, attr):
    def request(apdu):
        return ciphered(conn, s, apdu, 0xC8)
    return axdr.decode_all(cc.read_long(request, request(cc.get(cls, obj, attr))))


def set_(conn, s, obj, cls, attr, data):
    return ciphered(conn, s, cc.set_(cls, obj, attr, axdr.encode(data)), 0xC9)[3]


def act(conn, s, obj, cls, method, data):
    rsp = ciphered(conn, s, cc.action(cls, obj, method, axdr.encode(data)), 0xCB)
    assert rsp[:3] == bytes.fromhex("C701C1"), rsp.hex()
    return rsp[3]


@pytest.mark.parametrize("model", ["me382", "mt382"])
def test_manual_activation_end_to_end(model):
    with ServiceWithControl(model) as svc:
        svc.ctl("load", set={"i": 10.0})
        c, s = management(svc.wrapper_port)
        conn = Conn(c)
        try:
            assert get(conn, s, ENERGY_ACT, 6, 4) == (OS, b"T2")
            t3 = get(conn, s, cc.obis("1-0:1.8.3"), 3, 2)[1]
            assert act(conn, s, SCRIPTS, 9, 1, (LU, 3)) == 0
            assert get(conn, s, TARIFF, 1, 2) == (LU, 3)
            assert get(conn, s, ENERGY_ACT, 6, 4) == (OS, b"T3")
            assert get(conn, s, DEMAND_ACT, 6, 4) == (OS, b"T3")
            t2 = get(conn, s, cc.obis("1-0:1.8.2"), 3, 2)[1]
            svc.ctl("advance", seconds=3600)
            got3 = get(conn, s, cc.obis("1-0:1.8.3"), 3, 2)[1] - t3
            per_hour = 2300 * (3 if model == "mt382" else 1)
            assert got3 == pytest.approx(per_hour, rel=0.02)
            assert get(conn, s, cc.obis("1-0:1.8.2"), 3, 2)[1] - t2 <= per_hour // 100
            total = get(conn, s, cc.obis("1-0:1.8.0"), 3, 2)[1]
            tariffs = [get(conn, s, cc.obis("1-0:1.8.%d" % t), 3, 2)[1] for t in range(1, 9)]
            assert total - 8 <= sum(tariffs) <= total    # each truncated to whole Wh
        finally:
            c.close()


def test_independent_client_activates_a_tariff():
    """The third-party dlms-cosem client (HLS GMAC management association) reads the register
    activation object, executes script 5 of 0-0:10.0.100 and reads the tariff in force."""
    from dlms_cosem import cosem, enumerations
    from dlms_cosem.clients.dlms_client import DlmsClient
    from dlms_cosem.cosem.obis import Obis
    from dlms_cosem.utils import parse_as_dlms_data
    iface = enumerations.CosemInterface

    def attr(interface, text, n):
        return cosem.CosemAttribute(interface=interface, instance=Obis.from_string(text),
                                    attribute=n)

    with cc.Service() as svc:
        client = DlmsClient.with_tcp_transport(
            "127.0.0.1", svc.wrapper_port, 1, 1,
            authentication_method=enumerations.AuthenticationMechanism.HLS_GMAC,
            encryption_key=cc.EK, authentication_key=cc.AK, client_system_title=cc.CLIENT_TITLE,
            client_initial_invocation_counter=1000, timeout=5)
        with client.session() as c:
            masks = parse_as_dlms_data(c.get(attr(iface.REGISTER_ACTIVATION, "0.0.14.0.1.255", 3)))
            before = parse_as_dlms_data(c.get(attr(iface.REGISTER_ACTIVATION, "0.0.14.0.1.255",
                                                   4)))
            c.action(cosem.CosemMethod(interface=iface.SCRIPT_TABLE,
                                       instance=Obis.from_string("0.0.10.0.100.255"), method=1),
                     axdr.encode((LU, 5)))
            after = parse_as_dlms_data(c.get(attr(iface.DATA, "0.0.96.14.0.255", 2)))
            mask = parse_as_dlms_data(c.get(attr(iface.REGISTER_ACTIVATION, "0.0.14.0.2.255", 4)))
    assert [m[0] for m in masks] == [b"T%d" % t for t in range(1, 9)]
    assert masks[4][1] == list(range(49, 61))
    assert before == b"T2" and after == 5 and mask == b"T5"


@pytest.mark.parametrize("model", ["me382", "mt382"])
def test_every_assigned_register_is_an_object_of_the_model(model):
    import importlib
    from cosem import obis
    rows = {}
    for row in importlib.import_module("models." + model).rows():
        ln = obis.parse(row[0]) if isinstance(row[0], str) else row[0]
        rows[ln] = row[1].CLASS_ID
    for arg in (tc.ENERGY_ARG, tc.DEMAND_ARG):
        for cid, ln in arg[0]:
            assert rows.get(ln) == cid, ln.hex()
