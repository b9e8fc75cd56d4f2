"""Demand and billing on a real Meter (host board, fast-forward through Meter.advance under
CPython; the same service runs under micropython in mp/test_billing_service.py): demand values
equal to the analytic power, maximum demand per tariff with its capture time, end of billing at
the month boundary with its snapshot, persistence across power off / on and a hard cut, a
missed end of billing run once at power-up, the settings written through the COSEM objects,
and NV records that survive a power cut at any byte."""
import asyncio

import pytest

import hw
import sim_nv
from core import billing, civil, demand, dst
from cosem import errors, obis
from dlms import axdr
from runtime import billing_service as bs
from runtime import cosem_service, nvlayout
from runtime import meter as meter_mod
from runtime.service import Service

# Friday 2026-01-30 10:03 UTC = 11:03 CET: default calendar tariff 2 (day) until 22:00 CET.
START = civil.to_epoch(2026, 1, 30, 10, 3)
BILLING_FEB = civil.to_epoch(2026, 1, 31, 23, 0)      # 2026-02-01 00:00 CET
P_W = 2300                                            # 230 V, 10 A, cos phi 1
A_PLUS, R_PLUS, S_PLUS = 0, 2, 4                      # positions in billing_service.QUANTITIES


@pytest.fixture(autouse=True)
def _only_this_service(monkeypatch):
    # The Meter's sleep_ms is MicroPython's; the service is tested on its own in the Meter.
    monkeypatch.setattr(asyncio, "sleep_ms", lambda ms: asyncio.sleep(ms / 1000), raising=False)
    monkeypatch.setattr(meter_mod, "SERVICES", ("billing_service",))


def _board(start=START, model="me382"):
    # Paced at a negligible speed: no measured window runs between the analytic steps.
    b = hw.Board(model, {"start": start, "state_dir": None, "realtime": True,
                           "speed": 0.000001})
    b.afe.configure(None, i=10.0, phi=0.0)
    return b


def _boot(board):
    m = meter_mod.Meter(board, {"model": board.model})
    m.power_on_sync()
    return m, m.services[0]


async def _to(m, t):
    await m.advance(t - m.board.clock.now())
    assert m.board.clock.now() == t


def _mwh(seconds, watts=P_W):
    return watts * seconds * 1000 // 3600


@pytest.fixture(scope="module")
def month():
    """A month and a half of one meter, with a reboot, a hard cut and an outage."""
    mp = pytest.MonkeyPatch()
    mp.setattr(asyncio, "sleep_ms", lambda ms: asyncio.sleep(ms / 1000), raising=False)
    mp.setattr(meter_mod, "SERVICES", ("billing_service",))
    try:
        return asyncio.run(_month())
    finally:
        mp.undo()


async def _month():
    out = {}
    board = _board()
    m, s = _boot(board)
    seen = []
    m.listen("billing", lambda t: seen.append((t, list(m.energy_regs.total),
                                               s.demands[0].max_value[:])))
    await _to(m, civil.to_epoch(2026, 1, 30, 21, 0))              # 22:00 CET
    d = s.demands[A_PLUS]
    out["first"] = (d.last_average_value, d.capture_time, d.status, d.max_value[:],
                    d.max_time[:], s.demands[R_PLUS].last_average_value,
                    s.demands[S_PLUS].last_average_value)
    await m.advance(450)
    out["half"] = d.current_average_value(s._pending(A_PLUS))
    await m.advance(450)
    board.afe.configure(None, i=20.0, phi=0.0)                     # 4600 W for an hour
    await m.advance(3600)
    board.afe.configure(None, i=10.0, phi=0.0)
    out["night"] = (d.max_value[:], d.max_time[:])
    await _to(m, BILLING_FEB + 600)
    out["billed"] = (s.billing.counter, s.billing.last_reset, s.snapshot, seen[:],
                     d.max_value[:], d.max_time[:], d.cum_value[:],
                     m.events.last_code("standard"))
    await _to(m, civil.to_epoch(2026, 2, 2, 12, 0))
    feb = (d.max_value[:], d.max_time[:], d.cum_value[:], s.billing.counter)
    m.power_off()
    m, s = _boot(board)                                            # reboot: state from NV
    d = s.demands[A_PLUS]
    out["rebooted"] = (feb, (d.max_value[:], d.max_time[:], d.cum_value[:], s.billing.counter,
                             s.billing.last_reset))
    await m.advance(900)
    out["power_up_status"] = d.status
    await m.advance(900)
    out["complete_status"] = d.status
    board.afe.configure(None, i=30.0, phi=0.0)                     # a new maximum, saved
    await m.advance(900)
    board.afe.configure(None, i=10.0, phi=0.0)
    await m.advance(900)
    before = (d.max_value[:], d.max_time[:], s.billing.counter)
    m.power_off(hard=True)
    m, s = _boot(board)
    d = s.demands[A_PLUS]
    out["hard"] = (before, (d.max_value[:], d.max_time[:], s.billing.counter))
    await _to(m, civil.to_epoch(2026, 2, 20, 12, 0))
    m.power_off()
    board.clock.advance((civil.to_epoch(2026, 4, 1, 12, 0) - board.clock.now()) * 1000000)
    m, s = _boot(board)                                            # two ends of billing missed
    out["outage"] = (s.billing.counter, s.billing.last_reset, m.events.last_code("standard"))
    m.power_off()
    return out


def test_demand_is_the_analytic_power(month):
    last, capture, status, mx, mt, r_last, s_last = month["first"]
    assert (last, capture, status) == (P_W, civil.to_epoch(2026, 1, 30, 21, 0), 0)
    assert (r_last, s_last) == (0, P_W)
    assert month["half"] == P_W // 2        # block demand: half a period at 2300 W


def test_maximum_demand_per_tariff_with_capture_time(month):
    first_complete = civil.to_epoch(2026, 1, 30, 10, 30)   # 11:15..11:30 CET, tariff 2
    _, _, _, mx, mt, _, _ = month["first"]
    assert mx[:3] == [P_W, 0, P_W] and mt[:3] == [first_complete, None, first_complete]
    mx, mt = month["night"]
    night = civil.to_epoch(2026, 1, 30, 21, 30)            # 22:15..22:30 CET, tariff 1
    assert mx[:3] == [2 * P_W, 2 * P_W, P_W]
    assert mt[:3] == [night, night, first_complete]
    assert mx[3:] == [0] * 6 and mt[3:] == [None] * 6


def test_end_of_billing_at_the_month_boundary(month):
    counter, last, snap, seen, mx, mt, cum, code = month["billed"]
    assert (counter, last) == (1, BILLING_FEB)
    assert len(seen) == 1 and seen[0][0] == BILLING_FEB
    # The listeners ran before the maxima were reset (a billing profile captures them).
    assert seen[0][2][:3] == [2 * P_W, 2 * P_W, P_W]
    assert snap[0] == 1 and snap[1] == BILLING_FEB
    assert snap[2] == seen[0][1]
    expect = _mwh(BILLING_FEB - START) + _mwh(3600)
    assert abs(snap[2][0] - expect) <= 1
    assert sum(r[0] for r in snap[3]) == snap[2][0]
    night = civil.to_epoch(2026, 1, 30, 21, 30)
    values, times, cums = snap[4][A_PLUS]
    assert values[:3] == [2 * P_W, 2 * P_W, P_W] and times[:2] == [night, night]
    assert cums[:3] == [2 * P_W, 2 * P_W, P_W]
    assert mx == [0] * 9 and mt == [None] * 9
    assert cum[:3] == [2 * P_W, 2 * P_W, P_W]
    assert code == bs.EVENT_BILLING_RESET


def test_state_survives_a_reboot(month):
    before, after = month["rebooted"]
    assert after[:4] == before
    assert after[4] == BILLING_FEB
    assert before[0][0] == P_W and before[3] == 1


def test_first_window_after_power_up_is_flagged_and_not_a_maximum(month):
    assert month["power_up_status"] & demand.STATUS_POWER_UP
    assert month["power_up_status"] & demand.STATUS_INCOMPLETE
    assert month["complete_status"] == 0


def test_hard_cut_keeps_what_was_saved(month):
    before, after = month["hard"]
    assert before[0][0] == 3 * P_W
    assert after == before


def test_missed_end_of_billing_runs_once_at_power_up(month):
    counter, last, code = month["outage"]
    assert counter == 2
    assert last == civil.to_epoch(2026, 4, 1, 12, 0)
    assert code == bs.EVENT_BILLING_RESET


# ------------------------------------------------------------------ COSEM objects (CPython)

def _management(m):
    app, src = cosem_service.build(m)
    view = src.model.associate(1, hls=lambda f: b"ok")
    view.reply_hls(b"x")
    return src.model, view


def _obj(view, class_id, text):
    return view.find(class_id, obis.parse(text))


def _run(fn, model="me382"):
    async def go():
        board = _board(model=model)
        m, s = _boot(board)
        try:
            return await fn(board, m, s)
        finally:
            if m.powered:
                m.power_off()
    return asyncio.run(go())


def test_cosem_reads_and_period_write():
    async def body(board, m, s):
        model, view = _management(m)
        await m.advance(1800 + 27 * 60)                  # to 11:00 CET + one window
        md = _obj(view, 4, "1-0:1.6.0")
        assert view.get(md, 2) == (axdr.DOUBLE_LONG_UNSIGNED, P_W)
        ct = view.get(md, 5)[1]
        assert ct[5:7] == bytes((11, 30)) and ct[2:4] == bytes((1, 30))
        dr = _obj(view, 5, "1-0:1.4.0")
        assert view.get(dr, 3) == (axdr.DOUBLE_LONG_UNSIGNED, P_W)
        assert view.get(dr, 8) == (axdr.DOUBLE_LONG_UNSIGNED, 900)
        assert view.get(_obj(view, 3, "1-0:1.2.0"), 2) == (axdr.DOUBLE_LONG_UNSIGNED, 0)
        with pytest.raises(errors.OtherReason):
            view.set(dr, 8, (axdr.DOUBLE_LONG_UNSIGNED, 7))     # does not divide an hour
        with pytest.raises(errors.OtherReason):
            view.set(dr, 9, (axdr.LONG_UNSIGNED, 16))
        assert s.periods[0] == (900, 1) and m.store.read(bs.KEY_SETTINGS) is None
        view.set(dr, 8, (axdr.DOUBLE_LONG_UNSIGNED, 300))
        view.set(dr, 9, (axdr.LONG_UNSIGNED, 3))
        assert s.periods[0] == (300, 3) and s.demands[0].period == 300
        assert view.get(md, 2) == (axdr.DOUBLE_LONG_UNSIGNED, P_W)    # maxima kept
        await m.advance(3600)
        assert s.demands[0].last_average_value == P_W
        m.power_off()
        m2, s2 = _boot(board)
        assert s2.periods[0] == (300, 3) and s2.demands[0].n == 3
        m2.power_off()
    _run(body)


def test_cosem_schedule_bad_writes_change_nothing():
    async def body(board, m, s):
        model, view = _management(m)
        sch = _obj(view, 22, "0-0:15.0.0")
        assert view.get(sch, 2) == (axdr.STRUCTURE, [(axdr.OCTET_STRING, bs.SCRIPTS_LN),
                                                     (axdr.LONG_UNSIGNED, 1)])
        assert view.get(sch, 3) == (axdr.ENUM, 1)
        default = view.get(sch, 4)
        assert default == (axdr.ARRAY, [(axdr.STRUCTURE, [
            (axdr.OCTET_STRING, b"\x00\x00\x00\x00"),
            (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])])
        two = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x00\x00\x00\x00"),
                                              (axdr.OCTET_STRING, d)])
                            for d in (b"\x07\xea\x02\x0f\xff", b"\x07\xea\x03\x0f\xff")])
        bad = [
            (4, two),                                                  # two entries, type 1
            (3, (axdr.ENUM, 6)),
            (3, (axdr.ENUM, 2)),                                       # wildcards, type 2
            (4, (axdr.ARRAY, [])),
            (4, (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x18\x00\x00\x00"),
                                                (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])])),
            (4, (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x00\x00\x00"),
                                                (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])])),
        ]
        for attr, value in bad:
            with pytest.raises(errors.AccessError):
                view.set(sch, attr, value)
        with pytest.raises(errors.ReadWriteDenied):
            view.set(sch, 2, (axdr.STRUCTURE, [(axdr.OCTET_STRING, bs.SCRIPTS_LN),
                                               (axdr.LONG_UNSIGNED, 2)]))
        assert view.get(sch, 4) == default and view.get(sch, 3) == (axdr.ENUM, 1)
        with pytest.raises(errors.OtherReason):
            view.set(sch, 3, (axdr.ENUM, 4))                # type 4: no wildcard in the date
        assert view.get(sch, 3) == (axdr.ENUM, 1)
        assert m.store.read(bs.KEY_SETTINGS) is None
    _run(body)


def test_cosem_schedule_type_then_dates():
    async def body(board, m, s):
        model, view = _management(m)
        sch = _obj(view, 22, "0-0:15.0.0")
        view.set(sch, 3, (axdr.ENUM, 5))
        dates = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x0c\x00\x00\x00"),
                                                (axdr.OCTET_STRING, b"\x07\xea\x02\x0f\xff")])])
        view.set(sch, 4, dates)
        assert view.get(sch, 4) == dates
        await _to(m, civil.to_epoch(2026, 2, 15, 11, 0))                  # 12:00 CET
        assert s.billing.counter == 1 and s.billing.last_reset == m.board.clock.now()
        await _to(m, civil.to_epoch(2026, 3, 2, 0, 0))                    # 1st: no more
        assert s.billing.counter == 1
        m.power_off()
        m2, s2 = _boot(board)
        assert (s2.kind, s2.entries) == (5, [((12, 0, 0), (2026, 2, 15, 0xFF))])
        m2.power_off()
    _run(body)


def test_cosem_scripts_and_counters():
    async def body(board, m, s):
        model, view = _management(m)
        await m.advance(3600)
        table = _obj(view, 9, "0-0:10.0.1")
        counter = _obj(view, 1, "0-0:0.1.0")
        assert view.get(counter, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 0)
        assert view.get(_obj(view, 1, "0-0:0.1.2"), 2)[1][:2] == b"\xff\xff"
        assert view.action(table, 1, (axdr.LONG_UNSIGNED, 3)) == (errors.OTHER_REASON, None)
        assert s.billing.counter == 0
        assert view.action(table, 1, (axdr.LONG_UNSIGNED, 1)) == (errors.SUCCESS, None)
        assert view.get(counter, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 1)
        assert view.get(_obj(view, 1, "0-0:0.1.1"), 2) == (axdr.UNSIGNED, 1)
        assert s.demands[0].max_value[0] == 0 and s.demands[0].cum_value[0] == P_W
        await m.advance(1800)
        assert view.action(table, 1, (axdr.LONG_UNSIGNED, 2)) == (errors.SUCCESS, None)
        assert s.billing.counter == 1 and s.demands[0].cum_value[0] == 2 * P_W
        assert view.get(_obj(view, 3, "1-0:1.2.0"), 2) == (axdr.DOUBLE_LONG_UNSIGNED, 2 * P_W)
        dr = _obj(view, 5, "1-0:1.4.0")
        assert view.action(dr, 2, (axdr.INTEGER, 0))[0] == errors.SUCCESS
        assert s.demands[0].status & demand.STATUS_CLOCK
        assert view.action(dr, 1, (axdr.INTEGER, 0))[0] == errors.SUCCESS
        assert view.get(dr, 3) == (axdr.DOUBLE_LONG_UNSIGNED, 0)
        public = model.associate(16)
        with pytest.raises(errors.ObjectUndefined):
            public.find(4, obis.parse("1-0:1.6.0"))
        pre = model.associate(102)
        assert pre.action(pre.find(9, obis.parse("0-0:10.0.1")), 1,
                          (axdr.LONG_UNSIGNED, 1))[0] == errors.READ_WRITE_DENIED
        assert s.billing.counter == 1
    _run(body)


class _EveryWindow(Service):
    """A service that wants to run after every window (next_due = now)."""

    def next_due(self, now_s):
        return now_s


def test_late_ticks_share_the_energy_in_proportion():
    # With a service due at every window the Meter no longer cuts its steps at the sub-period
    # ends: the ticks come up to 900 s late (steps counted from 10:03) and must still book each
    # sub-period its own energy.
    async def body(board, m, s):
        m.services.append(_EveryWindow())
        m._schedule(m.board.clock.now())
        await m.advance(6 * 3600)
        d = s.demands[A_PLUS]
        assert m.board.clock.now() % 900 == 180
        assert (d.last_average_value, d.status) == (P_W, 0)
        assert d.capture_time % 900 == 0
        assert d.max_value[0] == P_W
        assert s.demands[S_PLUS].last_average_value == P_W
    _run(body)


@pytest.mark.parametrize("model", ["me382", "mt382"])
def test_every_billing_source_of_the_model_is_bound(model):
    async def body(board, m, s):
        app, src = cosem_service.build(m)
        names = [n for n in app.model.source_names()
                 if n.split(".")[0] in ("demand", "md", "cmd", "billing", "billing_scripts",
                                        "billing_schedule")]
        assert len(names) == 6 * (7 + 2 + 3 + 9 * 4) + 3 + 1 + 3
        for name in names:
            if name in src.actions:
                continue
            assert name in src.getters, name
            src.read(name)
        for q in bs.QUANTITIES:
            for a in ("period", "number_of_periods"):
                assert "demand.%s.%s" % (q, a) in src.setters
    _run(body, model)


def test_clock_set_flags_the_windows():
    async def body(board, m, s):
        await m.advance(1800)
        m.set_time(m.board.clock.now() + 7200)
        assert s.demands[0].status & demand.STATUS_CLOCK
        await m.advance(900)
        assert s.demands[0].status & demand.STATUS_CLOCK
        assert s.demands[0].next_boundary() % 900 == 0
    _run(body)


def test_time_zone_change_realigns_the_windows():
    async def body(board, m, s):
        await m.advance(1800)
        eu = m.tou.rule
        m.set_rule(dst.Rule(-5, eu.begin, eu.end, 60, False))       # UTC+00:05, no DST
        await m.advance(900)
        d = s.demands[A_PLUS]
        assert d.offset_s == 300 and d.next_boundary() % 900 == 600
        assert d.status & demand.STATUS_CLOCK
        await m.advance(1800)
        assert (d.last_average_value, d.status) == (P_W, 0)
        assert s.billing.schedule.rule is m.tou.rule
    _run(body)


# ------------------------------------------------------------------ NV records

def test_settings_record_round_trip_and_refusals():
    entries = [((12, 0, 0), (2026, 2, 15, 0xFF)), ((0, 0, 0), (2026, 3, 1, 0xFF))]
    periods = [(900, 1), (300, 3), (60, 15), (3600, 1), (900, 2), (1800, 1)]
    raw = bs.pack_settings(4, entries, periods)
    assert len(raw) <= dict(nvlayout.RECORDS)["billing_cfg"]
    assert bs.unpack_settings(raw, 6) == (4, entries, periods)
    for broken in (raw[:-1], b"\x02" + raw[1:], raw[:5] + bytes((raw[5] ^ 1,)) + raw[6:],
                   bs.pack_settings(1, entries, periods), bs.pack_settings(4, entries,
                                                                          [(7, 1)] * 6)):
        with pytest.raises(ValueError):
            bs.unpack_settings(broken, 6)


def test_billing_record_fits_and_a_cut_at_any_byte_keeps_old_or_new():
    async def body(board, m, s):
        await m.advance(3600)
        old = m.store.read(bs.KEY_BILLING)
        assert old is not None and len(s.billing.to_bytes()) <= dict(
            nvlayout.RECORDS)["billing"]
        return old, s.billing.to_bytes()
    old, _ = _run(body)
    nv = sim_nv.NvMem(nvlayout.RECORDS_REGION)
    store = nvlayout.open_store(nv)
    store.write(bs.KEY_BILLING, old)
    ds = [demand.Demand() for _ in bs.QUANTITIES]
    b = billing.Billing(10, 8, ds, 0)
    b.load(old)
    b.end_of_billing(START + 7200, [1] * 10, [[0] * 10] * 8)
    new = b.to_bytes()
    image = _image(nv)
    for n in range(0, len(new) + 40):         # every byte of the write (header included)
        nv2 = sim_nv.NvMem(nvlayout.RECORDS_REGION)
        nv2.write(0, image)
        st = nvlayout.open_store(nv2)
        nv2.cut_after(n)
        try:
            st.write(bs.KEY_BILLING, new)
        except sim_nv.PowerCut:
            pass
        nv2.restore()
        got = nvlayout.open_store(nv2).read(bs.KEY_BILLING)
        assert got in (old, new)
        check = billing.Billing(10, 8, [demand.Demand() for _ in bs.QUANTITIES], 0)
        check.load(got)


def _image(nv):
    buf = bytearray(nv.size)
    nv.readinto(0, buf)
    return bytes(buf)
