"""Load profile options 0-0:128.10.1 / .2 (docs/profiles.md "Options"): the profiles service on
CPython driven tick by tick on a fake board (power-up row, clock change row, rows for the
instants an outage skipped, bounded for any outage, settings in NV), the option objects through
the management association, and one scenario of the real firmware under micropython on the host
board."""
import json
import struct

import pytest
from hypothesis import given, settings, strategies as st

import cosem_client as cc
import mpy
import sim_clock
import sim_nv
from core import civil, dst
from cosem.sources import DictSources
from dlms import axdr
from runtime import cosem_service, profiles
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered
from test_profiles_cosem import Regs

START = civil.to_epoch(2026, 1, 14, 0, 0, 0)       # 01:00 CET, a quarter-hour
SUMMER = civil.to_epoch(2026, 7, 14, 0, 0, 0)
Q = 900
RULE = dst.eu_rule(-60)
OFF_ROW = profiles.PDN | profiles.DATA_NOT_VALID                  # 0x84
BOOT_BITS = profiles.PDN | profiles.PUP | profiles.DATA_NOT_VALID  # 0xC4
SET_BITS = profiles.CLOCK_ADJUSTED | profiles.DATA_NOT_VALID      # 0x24
T, STATUS, APLUS = 0, 1, 2


class Board:
    def __init__(self, start):
        self.clock = sim_clock.Clock(1000, start)
        self.nv = sim_nv.NvMem()


class Rig:
    """The profiles service of one meter on CPython: boots on the same NV memory, captures at
    each due instant, A+ grows by 1 Wh per powered second (frozen while off)."""

    def __init__(self, start=START):
        self.board = Board(start)
        self.regs = Regs()
        self.boot(start)

    def boot(self, t, clock_valid=True):
        if clock_valid:
            self.board.clock.set(t)
        else:
            self.board.clock.lose(t)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(meter_mod, "SERVICES", ("profiles",))
            self.m = meter_mod.Meter(self.board, {"model": "me382"})
        self.m.energy_regs = self.m.tariff_regs = self.regs
        self.m.powered = True
        self.prof = self.m.services[0]
        self.src = DictSources()
        self.prof.bind(self.src)
        self.prof.power_on(t)
        return self

    def now(self):
        return self.board.clock.now()

    def _to(self, t):
        self.regs.total[0] += (t - self.now()) * 1000
        self.board.clock.set(t)

    def run_to(self, t):
        for _ in range(20000):
            due = self.prof.next_due(self.now())
            if due is None or due > t:
                break
            self._to(due)
            self.prof.tick(due)
        self._to(t)

    def off(self, hard=False):
        if not hard:
            self.prof.save()
        self.m.powered = False

    def outage(self, until, hard=False):
        self.off(hard)
        return self.boot(until)

    def options(self, key="lp1", value=None):
        if value is not None:
            self.src.write(key + ".options", value)
        return self.src.read(key + ".options")

    def rows(self, key="lp1"):
        buf = self.prof.by_key[key].buffer
        return [list(buf.values(i)) for i in range(len(buf))]


def quarters(a, b):
    """Quarter-hour instants in a..b (a excluded, b included)."""
    return list(range(a - a % Q + Q, b + 1, Q))


# ------------------------------------------------------------------ default and settings

def test_default_is_zero_and_adds_no_row():
    rig = Rig()
    assert rig.options("lp1") == 0 and rig.options("lp2") == 0
    rig.run_to(START + 3600 + 100)
    rig.outage(START + 3 * 3600 + 50)
    rig.m.set_time(START + 3 * 3600 + 400)
    rig.m.set_time(START + 3 * 3600 + 7300)
    rig.run_to(START + 6 * 3600)
    times = [r[T] for r in rig.rows()]
    assert times == quarters(START, START + 3600) + quarters(START + 5 * 3600, START + 6 * 3600)


def test_options_persist_across_a_restart_per_profile():
    rig = Rig()
    rig.options("lp1", profiles.OPT_POWER_UP | profiles.OPT_FILL)
    rig.options("lp2", profiles.OPT_CLOCK_CHANGE)
    rig.off(hard=True)                       # the write itself reached NV
    rig.boot(START + 60)
    assert (rig.options("lp1"), rig.options("lp2")) == (5, 2)
    assert rig.m.store.read(profiles.KEY)[0] == 2          # record version 2


@pytest.mark.parametrize("value", [8, 0x10, 0x80, 0xFF, 0x0F, -1, True + 0.5])
def test_other_bits_are_refused_and_nothing_changes(value):
    rig = Rig()
    rig.options("lp1", 3)
    before = rig.m.store.read(profiles.KEY)
    with pytest.raises(ValueError):
        rig.options("lp1", value)
    assert rig.options("lp1") == 3 and rig.m.store.read(profiles.KEY) == before


def test_billing_profiles_have_no_options():
    rig = Rig()
    assert "billing1.options" not in rig.src.getters
    assert "billing1.options" not in rig.src.setters


def test_version_1_record_of_older_firmware_is_read_with_options_zero():
    rig = Rig()
    rig.off()
    items = [(1800, 50, 0x20), (86400, 45, 0), (0, 15, 0), (86400, 40, 0)]
    raw = bytes((1,)) + b"".join(struct.pack("<IIB", *i) for i in items)
    rig.m.store.write(profiles.KEY, raw)
    rig.boot(START + 5000)
    lp1 = rig.prof.by_key["lp1"]
    assert (lp1.period, lp1.buffer.limit, rig.options("lp1"), rig.options("lp2")) == (
        1800, 50, 0, 0)
    assert lp1.status & profiles.CLOCK_ADJUSTED             # the pending bits were kept
    assert rig.rows() == []                                 # no option: no extra row


# ------------------------------------------------------------------ capture on power-up

def test_power_up_row_holds_the_bits_of_the_interval_then_clears_them():
    rig = Rig()
    rig.options("lp1", profiles.OPT_POWER_UP)
    rig.run_to(START + 3600 + 100)
    aplus = rig.regs.total[0] // 1000
    rig.outage(START + 5000)
    rows = rig.rows()
    assert rows[-1][:3] == [START + 5000, BOOT_BITS, aplus]
    rig.run_to(START + 6300)
    rows = rig.rows()
    assert [r[T] for r in rows[-3:]] == [START + 5000, START + 5400, START + 6300]
    assert rows[-2][STATUS] == 0 and rows[-1][STATUS] == 0
    assert rows[-2][APLUS] == aplus + 400
    assert not [r for r in rows if START + 3600 < r[T] < START + 5000]     # no fill


# ------------------------------------------------------------------ capture on clock change

def test_clock_set_forward_closes_the_interval_at_the_old_time():
    rig = Rig()
    rig.options("lp1", profiles.OPT_CLOCK_CHANGE)
    rig.run_to(START + 1000)
    rig.m.set_time(START + 5000)
    rig.run_to(START + 5400)
    rows = rig.rows()
    first = profiles.PUP | profiles.DATA_NOT_VALID        # the first boot's interval
    assert [r[T] for r in rows] == [START + 900, START + 1000, START + 5400]
    assert [r[STATUS] for r in rows] == [first, SET_BITS, SET_BITS]
    assert [r[APLUS] for r in rows] == [900, 1000, 1400]   # energy up to the change, then on


def test_clock_set_backward_rows_go_back_in_time():
    rig = Rig()
    rig.options("lp1", profiles.OPT_CLOCK_CHANGE)
    rig.run_to(START + 5000)
    rig.m.set_time(START + 1000)
    rig.run_to(START + 2700)
    rows = rig.rows()
    assert [r[T] for r in rows][-4:] == [START + 4500, START + 5000, START + 1800, START + 2700]
    assert [r[STATUS] for r in rows][-3:] == [SET_BITS, SET_BITS, 0]
    assert [r[APLUS] for r in rows][-3:] == [5000, 5800, 6700]


def test_clock_change_row_carries_the_dst_bit_of_the_old_time():
    rig = Rig(SUMMER)
    rig.options("lp1", profiles.OPT_CLOCK_CHANGE)
    rig.run_to(SUMMER + 100)
    rig.m.set_time(SUMMER + 200)
    row = rig.rows()[-1]
    # The first boot's PUP is among the bits collected so far.
    assert row[T] == SUMMER + 100
    assert row[STATUS] == profiles.PUP | SET_BITS | profiles.DST_ACTIVE


def test_clock_set_while_off_adds_no_row():
    rig = Rig()
    rig.options("lp1", profiles.OPT_CLOCK_CHANGE)
    rig.run_to(START + 1000)
    rig.off()
    rig.m.set_time(START + 1200)
    assert [r[T] for r in rig.rows()] == [START + 900]


# ------------------------------------------------------------------ fill missed intervals

def _fill(off, on, limit=None, hard=False, key="lp1"):
    """Rows of a meter with option fill, powered from START to `off`, off until `on`."""
    rig = Rig()
    rig.options(key, profiles.OPT_FILL)
    if limit:
        rig.src.write(key + ".profile_entries", limit)
    rig.run_to(off)
    aplus = rig.regs.total[0] // 1000
    before = rig.rows(key)
    rig.outage(on, hard)
    return rig, before, aplus


@pytest.mark.parametrize("off, on, missed", [
    (START + 3700, START + 3700 + 3 * Q, 3),     # a few intervals
    (START + 3700, START + 4600, 1),             # exactly one instant
    (START + 3700, START + 4499, 0),             # none: off and on in the same interval
    (START + 3700, START + 5400, 2),             # power-up on an instant: it is missed too
    (START + 3600, START + 4600, 1),             # off at the instant just captured
])
def test_fill_rows_are_exactly_the_missed_instants(off, on, missed):
    rig, before, aplus = _fill(off, on)
    rows = rig.rows()
    assert rows[:len(before)] == before
    added = rows[len(before):]
    assert [r[T] for r in added] == quarters(START + 3600, on)
    assert len(added) == missed
    assert all(r[STATUS] == OFF_ROW and r[APLUS] == aplus for r in added)
    assert all(r[3:] == before[-1][3:] for r in added)      # the other registers too
    rig.run_to(on - on % Q + Q)
    nxt = rig.rows()[-1]
    assert nxt[T] == on - on % Q + Q and nxt[STATUS] == BOOT_BITS   # the pending bits stay


def test_hard_cut_fills_from_the_newest_row():
    rig, before, aplus = _fill(START + 3700, START + 3700 + 2 * Q, hard=True)
    assert [r[T] for r in rig.rows()[len(before):]] == [START + 4500, START + 5400]


def test_far_longer_outage_than_profile_entries_keeps_the_newest_rows():
    years10 = START + 10 * 365 * 86400 + 123
    rig, before, aplus = _fill(START + 3700, years10, limit=10)
    rows = rig.rows()
    assert len(rows) == 10
    assert [r[T] for r in rows] == [years10 - years10 % Q - Q * k for k in range(9, -1, -1)]
    assert all(r[STATUS] == OFF_ROW and r[APLUS] == aplus for r in rows)


def test_ten_year_outage_fills_the_whole_profile_once():
    years10 = START + 10 * 365 * 86400 + 123
    rig, before, aplus = _fill(START + 3700, years10)
    buf = rig.prof.by_key["lp1"].buffer
    assert len(buf) == buf.capacity == 3072
    last = years10 - years10 % Q
    assert [buf.instant(i) for i in (0, 3070, 3071)] == [last - 3071 * Q, last - Q, last]


def test_fill_rows_in_summer_carry_the_dst_bit():
    rig = Rig(SUMMER)
    rig.options("lp1", profiles.OPT_FILL)
    rig.run_to(SUMMER + 1000)
    rig.outage(SUMMER + 3000)
    added = [r for r in rig.rows() if r[T] > SUMMER + 900]
    assert [r[T] for r in added] == [SUMMER + 1800, SUMMER + 2700]
    assert all(r[STATUS] == OFF_ROW | profiles.DST_ACTIVE for r in added)


def test_fill_rows_carry_clock_invalid_when_the_rtc_lost_its_time():
    rig = Rig()
    rig.options("lp1", profiles.OPT_FILL)
    rig.run_to(START + 1000)
    rig.off()
    rig.boot(START + 2000, clock_valid=False)
    added = [r for r in rig.rows() if r[T] > START + 900]
    assert [r[T] for r in added] == [START + 1800]
    assert added[0][STATUS] == OFF_ROW | profiles.CLOCK_INVALID


def test_no_fill_for_intervals_a_clock_set_skipped_or_a_reset_erased():
    rig = Rig()
    rig.options("lp1", profiles.OPT_FILL)
    rig.run_to(START + 1000)
    rig.m.set_time(START + 5000)                # skips 1800..4500
    rig.outage(START + 5300)                    # off before the next instant
    assert [r[T] for r in rig.rows()] == [START + 900]
    rig.run_to(START + 7300)
    rig.src.call("lp1.reset", None)
    rig.outage(START + 8200)
    assert [r[T] for r in rig.rows()] == [START + 8100]


def test_period_change_fills_only_instants_of_the_new_period():
    rig = Rig()
    rig.options("lp1", profiles.OPT_FILL)
    rig.run_to(START + 1000)
    rig.src.write("lp1.capture_period", 3600)
    rig.outage(START + 3 * 3600 + 10)
    assert [r[T] for r in rig.rows()] == [START + 900, START + 3600, START + 7200,
                                          START + 10800]


def test_daily_profile_fill_follows_local_midnight_across_dst():
    begin = civil.to_epoch(2026, 3, 25, 12, 0, 0)
    rig = Rig(begin)
    rig.options("lp2", profiles.OPT_FILL)
    rig.run_to(begin + 86400)
    rig.outage(civil.to_epoch(2026, 4, 2, 12, 0, 0))
    times = [r[T] for r in rig.rows("lp2")]
    # Local midnight: 23:00 UTC up to March 29 (DST from 01:00 UTC that day), then 22:00 UTC.
    assert times == ([civil.to_epoch(2026, 3, d, 23, 0, 0) for d in (25, 26, 27, 28)]
                     + [civil.to_epoch(2026, 3, d, 22, 0, 0) for d in (29, 30, 31)]
                     + [civil.to_epoch(2026, 4, 1, 22, 0, 0)])
    assert [r[STATUS] & ~profiles.DST_ACTIVE for r in rig.rows("lp2")[1:]] == [OFF_ROW] * 7


@settings(max_examples=60, deadline=None)
@given(off=st.integers(1, 4 * Q), outage=st.integers(0, 40 * Q), limit=st.integers(1, 24),
       hard=st.booleans())
def test_fill_is_exactly_the_missed_instants_at_most_profile_entries(off, outage, limit, hard):
    rig, before, aplus = _fill(START + off, START + off + outage, limit=limit, hard=hard)
    on = START + off + outage
    expected = [r[T] for r in before] + quarters(START + off - off % Q, on)
    rows = rig.rows()
    assert [r[T] for r in rows] == expected[-limit:]
    assert all(r[STATUS] == OFF_ROW and r[APLUS] == aplus for r in rows if r[T] > START + off)


# ------------------------------------------------------------------ all options together

def test_all_options_together():
    rig = Rig()
    rig.options("lp1", 7)
    rig.run_to(START + 1000)
    rig.outage(START + 3000)
    rig.run_to(START + 3200)
    rig.m.set_time(START + 4000)
    rig.run_to(START + 4500)
    rows = rig.rows()
    assert [(r[T], r[STATUS]) for r in rows] == [
        (START + 900, profiles.PUP | profiles.DATA_NOT_VALID),
        (START + 1800, OFF_ROW), (START + 2700, OFF_ROW),         # filled
        (START + 3000, BOOT_BITS),                                # power-up
        (START + 3200, SET_BITS),                                 # clock change
        (START + 4500, SET_BITS)]
    assert [r[APLUS] for r in rows] == [900, 1000, 1000, 1000, 1200, 1700]


# ------------------------------------------------------------------ capture-instant arithmetic

@settings(max_examples=300, deadline=None)
@given(t=st.integers(civil.to_epoch(2025, 1, 1), civil.to_epoch(2027, 12, 31)),
       p=st.sampled_from([60, 300, 900, 1800, 3600, 7200, 10800, 21600, 86400]))
def test_prev_capture_is_the_step_back_of_next_capture(t, p):
    b = profiles.prev_capture(t, p, RULE)
    assert b < t <= profiles.next_capture(b, p, RULE)
    assert profiles.next_capture(b - 1, p, RULE) == b


@settings(max_examples=200, deadline=None)
@given(since=st.integers(civil.to_epoch(2026, 3, 1), civil.to_epoch(2026, 11, 30)),
       span=st.integers(0, 12 * 86400), limit=st.integers(1, 30),
       p=st.sampled_from([900, 3600, 7200, 86400]))
def test_missed_is_the_newest_instants_of_the_window(since, span, limit, p):
    up = since + span
    every = []
    t = since
    for _ in range(20000):
        t = profiles.next_capture(t, p, RULE)
        if t > up:
            break
        every.append(t)
    first, count = profiles.missed(since, up, p, RULE, limit)
    got = []
    t = first
    for _ in range(count):
        got.append(t)
        t = profiles.next_capture(t, p, RULE)
    assert got == every[-limit:] if every else count == 0


# ------------------------------------------------------------------ COSEM

OPT1 = cc.obis("0-0:128.10.1")
OPT2 = cc.obis("0-0:128.10.2")
U = axdr.UNSIGNED


@pytest.fixture
def session():
    board = Board(START)
    m = meter_mod.Meter(board, {"model": "me382"})
    app, _ = cosem_service.build(m)
    m.energy_regs = m.tariff_regs = Regs()
    m.powered = True
    conn, s = associate(app)
    return m, app, conn, s


def _get(conn, s, ln):
    rsp = ciphered(conn, s, cc.get(1, ln, 2), 0xC8)
    assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
    return axdr.decode_all(rsp[4:])


def _set(conn, s, ln, data):
    rsp = ciphered(conn, s, cc.set_(1, ln, 2, axdr.encode(data)), 0xC9)
    assert rsp[:3] == bytes.fromhex("C501C1")
    return rsp[3]


def test_management_reads_and_writes_the_options(session):
    m, app, conn, s = session
    prof = [x for x in m.services if type(x).__name__ == "Profiles"][0]
    assert _get(conn, s, OPT1) == (U, 0) and _get(conn, s, OPT2) == (U, 0)
    assert _set(conn, s, OPT1, (U, 7)) == 0 and _set(conn, s, OPT2, (U, 4)) == 0
    assert _get(conn, s, OPT1) == (U, 7) and _get(conn, s, OPT2) == (U, 4)
    assert (prof.by_key["lp1"].options, prof.by_key["lp2"].options) == (7, 4)
    saved = m.store.read(profiles.KEY)
    assert _set(conn, s, OPT1, (U, 8)) == 250              # other-reason
    assert _set(conn, s, OPT1, (U, 0x81)) == 250
    assert _set(conn, s, OPT1, (axdr.LONG_UNSIGNED, 1)) == 12      # type-unmatched
    assert _set(conn, s, OPT1, (axdr.BOOLEAN, True)) == 12
    assert _get(conn, s, OPT1) == (U, 7) and m.store.read(profiles.KEY) == saved


def test_public_client_sees_no_option_object(session):
    m, app, conn, s = session
    pub = app.connection()
    assert cc.aare_result(pub.handle(16, cc.aarq(user_info=cc.initiate_request()))) == (0, 0)
    rsp = pub.handle(16, cc.get(1, OPT1, 2))
    assert rsp[:4] == bytes.fromhex("C401C101") and rsp[4] == 4     # object-undefined


# ------------------------------------------------------------------ micropython, host board

SCENARIO = r"""
import asyncio
import json
import hw
from cosem.sources import DictSources
from runtime.meter import Meter

def svc(m):
    for s in m.services:
        if type(s).__name__ == "Profiles":
            return s

def rows(m):
    buf = svc(m).by_key["lp1"].buffer
    return [list(buf.values(i)) for i in range(len(buf))]

async def main():
    out = {}
    b = hw.Board("me382", {"start": %(start)d, "state_dir": None, "realtime": False})
    b.afe.configure(None, i=10.0, phi=0.0)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    src = DictSources()
    svc(m).bind(src)
    src.write("lp1.options", 7)
    await m.advance(3600 + 100)
    m.power_off()
    out["off"] = b.clock.now()
    b.clock.advance(2000 * 1000000)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    out["on"] = b.clock.now()
    src = DictSources()
    svc(m).bind(src)
    out["options"] = src.read("lp1.options")
    await m.advance(300)
    out["set"] = b.clock.now()
    m.set_time(out["set"] + 3600)
    await m.advance(1800)
    out["rows"] = rows(m)
    m.power_off()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_all_options_on_the_host_board_under_micropython():
    out = json.loads(mpy.run_code(SCENARIO % {"start": START}, timeout=120))
    off, on, at = out["off"], out["on"], out["set"]
    assert out["options"] == 7
    rows = [r for r in out["rows"] if r[T] > START + 3600]
    times = [r[T] for r in rows]
    filled = quarters(START + 3600, on)
    assert len(filled) == 2 and off < filled[0]
    after = quarters(at + 3600, at + 3600 + 1800)
    assert times == filled + [on, at] + after
    assert [r[STATUS] for r in rows] == [OFF_ROW] * 2 + [BOOT_BITS, SET_BITS, SET_BITS, 0]
    aplus = [r[APLUS] for r in rows]
    assert aplus[0] == aplus[1] == aplus[2] < aplus[3] < aplus[4] < aplus[5]
