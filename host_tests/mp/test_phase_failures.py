# Per-phase power failures of the MT382 (runtime.logs fed by runtime.power_quality): counters,
# long failures, durations, events 232-237 in the standard log, the power failure log, and what a
# power cut leaves; the certification data log of the monitored critical parameters.
import asyncio
import gc
import struct

import hw
from runtime import cosem_service
from runtime import logs as logs_mod
from runtime import meter as meter_mod

START = 86400 * 365 * 27


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def _service(m, name):
    for s in m.services:
        if type(s).__module__.endswith(name):
            return s
    raise AssertionError("no service " + name)


def _board(model="mt382"):
    # Each board holds its whole NV memory in RAM: let the last one go first.
    meter_mod.current = None
    gc.collect()
    return hw.Board(model, {"start": START, "state_dir": None, "realtime": False,
                            "nv_size": 131072})


def _meter(model="mt382"):
    b = _board(model)
    m = meter_mod.Meter(b, {"model": model})
    m.power_on_sync()
    return b, m


async def _windows(b, seconds):
    end = b.clock.now() + seconds
    while b.clock.now() < end:
        await asyncio.sleep_ms(0)


def _standard(m):
    buf = _service(m, "logs").sinks["standard"].buffer
    return [tuple(buf.values(i)) for i in range(len(buf))]


def _codes(m, lo=1, hi=255):
    return [c for _, c in _standard(m) if lo <= c <= hi]


def test_short_failure_of_one_phase_from_measured_windows():
    b, m = _meter()
    _, src = cosem_service.build(m)

    async def run():
        await _windows(b, 2)
        b.afe.configure(2, u=0.0)
        await _windows(b, 5)
        b.afe.configure(2, u=230.0)
        await _windows(b, 3)
    asyncio.run(run())
    rows = _standard(m)
    down = [t for t, c in rows if c == 233]
    up = [t for t, c in rows if c == 236]
    _check(len(down) == 1 and len(up) == 1, rows)
    _check(START + 2 <= down[0] <= START + 4, "down at the missing time threshold %r" % down)
    _check(4 <= up[0] - down[0] <= 6, "restored %d s later" % (up[0] - down[0]))
    _check(_codes(m, 232, 237) == [233, 236], "no other phase: %r" % rows)
    _check([src.read("power_failure.count.L%d" % p) for p in (1, 2, 3)] == [0, 1, 0], "L2")
    _check(src.read("power_failure.count") == 1, "any phase")
    _check(src.read("power_failure.long_count") == 0 and
           src.read("power_failure.long_count.L2") == 0, "short")
    _check(len(_service(m, "logs").failures) == 0, "no power failure log row")
    m.power_off()


def test_long_failure_of_one_phase_during_an_analytic_advance():
    b, m = _meter()
    _, src = cosem_service.build(m)

    async def run():
        await _windows(b, 2)
        b.afe.configure(2, u=0.0)
        await m.advance(1200)
        b.afe.configure(2, u=230.0)
        await m.advance(900)
    asyncio.run(run())
    rows = _standard(m)
    down = [t for t, c in rows if c == 233]
    up = [t for t, c in rows if c == 236]
    _check(len(down) == 1 and len(up) == 1, rows)
    duration = up[0] - down[0]
    # During analytic steps the voltages are seen on the quarter hours.
    _check(800 <= duration <= 2100, "duration %d" % duration)
    _check(src.read("power_failure.long_count.L2") == 1 and src.read("power_failure.count.L2") == 1,
           "long failure of L2")
    _check(src.read("power_failure.duration.L2") == duration, "duration of L2")
    _check(src.read("power_failure.duration") == duration, "last long failure, any phase")
    _check(src.read("power_failure.long_count") == 1, "long, any phase")
    f = _service(m, "logs").failures
    _check(len(f) == 1 and tuple(f.values(0)) == (up[0], duration), "power failure log row")
    m.power_off()


def test_phase_failure_open_across_a_power_cut_ends_once_after_the_boot():
    b, m = _meter()

    async def run():
        await _windows(b, 2)
        b.afe.configure(2, u=0.0)
        await _windows(b, 4)
    asyncio.run(run())
    t_down = [t for t, c in _standard(m) if c == 233][0]
    b.cut_power()
    m.power_off(hard=True)
    b.restore_power(100)
    b.afe.configure(2, u=0.0)
    m2 = meter_mod.Meter(b, {"model": "mt382"})
    m2.power_on_sync()
    _, src = cosem_service.build(m2)
    lg = _service(m2, "logs")
    _check(lg.phase_down == [0, t_down, 0], "L2 still open: %r" % lg.phase_down)

    async def run2():
        await _windows(b, 4)            # L2 still missing: the same failure goes on
        b.afe.configure(2, u=230.0)
        await _windows(b, 3)
    asyncio.run(run2())
    codes = _codes(m2)
    _check(codes.count(233) == 1 and codes.count(236) == 1, codes)
    _check(codes.index(1) < codes.index(2) < codes.index(236), "power down, up, L2 back")
    _check(src.read("power_failure.count") == 2, "total outage and L2")
    _check(src.read("power_failure.count.L2") == 1, "one failure of L2")
    up = [t for t, c in _standard(m2) if c == 236][0]
    _check(up - t_down >= 100, "the outage is part of the phase failure")
    m2.power_off()


def test_phase_back_at_the_boot_ends_the_failure_at_the_boot():
    b, m = _meter()

    async def run():
        await _windows(b, 2)
        b.afe.configure(1, u=0.0)
        await _windows(b, 4)
    asyncio.run(run())
    m.power_off()
    b.cut_power()
    b.restore_power(300)
    b.afe.configure(1, u=230.0)
    m2 = meter_mod.Meter(b, {"model": "mt382"})
    m2.power_on_sync()
    boot = b.clock.now()

    async def run2():
        await _windows(b, 2)
    asyncio.run(run2())
    lg = _service(m2, "logs")
    up = [t for t, c in _standard(m2) if c == 235]
    _check(len(up) == 1 and boot <= up[0] <= boot + 1, "L1 restored at the boot: %r" % up)
    _check(lg.phase_long == [1, 0, 0] and lg.phase_down == [0, 0, 0], lg.phase_long)
    _check(lg.long_count == 2, "the outage and L1, both long")
    m2.power_off()


def test_interrupted_phase_step_is_done_once_at_the_boot():
    b, m = _meter()

    async def run():
        await _windows(b, 2)
        b.afe.configure(3, u=0.0)
        await _windows(b, 4)
    asyncio.run(run())
    lg = _service(m, "logs")
    t_down = lg.phase_down[2]
    # The record as a cut left it after the row, before the record without the step.
    lg._phase_todo = (2, 4, t_down, 0)     # step 4: the power down event
    lg._write(lg._pack())
    b.cut_power()
    m.power_off(hard=True)
    b.restore_power(5)
    m2 = meter_mod.Meter(b, {"model": "mt382"})
    m2.power_on_sync()
    _check(_codes(m2, 232, 237) == [234], "event 234 once: %r" % _codes(m2))
    _check(_service(m2, "logs")._phase_todo is None, "step done")
    m2.power_off()


def test_version_1_record_still_reads():
    b = _board()
    m = meter_mod.Meter(b, {"model": "mt382"})
    # The record of an older firmware: alive now, 7 failures, 3 long, last 400 s, threshold 200.
    raw = bytearray(logs_mod._RECORD_SIZE_V1)
    struct.pack_into("<BBIIIIIIII", raw, 0, 1, 0, b.clock.now(), 7, 3, 400, 200, 0, 0, 0)
    for k in range(len(logs_mod.events.LOGS) + 1):
        struct.pack_into("<H", raw, 34 + 2 * k, 10)
    m.store.write(logs_mod.KEY_V1, bytes(raw))
    m.power_on_sync()
    lg = _service(m, "logs")
    _check((lg.count, lg.long_count, lg.last_duration, lg.threshold) == (8, 3, 400, 200),
           "version 1 counters, the boot counted")
    _check(lg.failures.limit == 10 and lg.certification.limit == lg.certification.capacity,
           "log sizes")
    _check(lg.phase_count == [0, 0, 0], "no phase failures yet")
    m.power_off()
    m2 = meter_mod.Meter(b, {"model": "mt382"})
    m2.power_on_sync()
    _check(_service(m2, "logs").count == 9, "version 2 record written and read")
    m2.power_off()


def test_single_phase_meter_has_no_phase_failures():
    b, m = _meter("me382")
    _, src = cosem_service.build(m)
    _check("power_failure.count.L1" not in src.getters, "no per-phase objects")
    m.power_off()


def test_certification_rows_for_each_monitored_parameter():
    b, m = _meter()
    _, src = cosem_service.build(m)
    cert = _service(m, "logs").certification
    old_limit = src.read("clock.shift_limit")
    src.write("clock.shift_limit", old_limit // 2)
    src.write("demand.A+.period", 300)
    src.write("lp1.capture_period", 300)
    src.write("lp1.capture_period", 300)        # no change: no row
    try:
        src.write("demand.A-.period", 7)        # refused: no row
    except ValueError:
        pass
    rows = [cert.row(i) for i in range(len(cert))]
    t = b.clock.now()
    _check(rows == [(t, b"\x01\x00\x00\x09\x0b\xff", old_limit, old_limit // 2),
                    (t, b"\x01\x00\x01\x04\x00\xff", 900, 300),
                    (t, b"\x01\x00\x63\x01\x00\xff", 900, 300)], rows)
    _check(src.read("certification.parameter") == b"\x01\x00\x63\x01\x00\xff", "last parameter")
    _check((src.read("certification.old"), src.read("certification.new")) == (900, 300), "values")
    cells = cert.cells(0)
    _check(cells[1] == (9, b"\x01\x00\x00\x09\x0b\xff") and cells[2][0] == 5, cells)
    # The rows are in NV: a reboot reads them back.
    b.cut_power()
    m.power_off(hard=True)
    b.restore_power(10)
    m2 = meter_mod.Meter(b, {"model": "mt382"})
    cert2 = _service(m2, "logs").certification
    _check([cert2.row(i) for i in range(len(cert2))] == rows, "rows after the cut")


def test_wrong_phase_sequence_raises_event_88_once():
    b, m = _meter()

    async def run():
        await _windows(b, 8)
        b.afe.configure(2, u_angle=120.0)
        b.afe.configure(3, u_angle=-120.0)
        await _windows(b, 15)
    asyncio.run(run())
    _check(_codes(m, 88, 88) == [88], "event 88 once: %r" % _codes(m))
    _check(m.events.alarm[1] & (1 << 11), "alarm register 2 bit 11")
    t88 = [t for t, c in _standard(m) if c == 88][0]
    # Seen at the next check (~5 s), then held for the 5 s fault time.
    _check(START + 8 + 5 <= t88 <= START + 8 + 12, "stamped %d s after the swap" % (t88 - START))
    _check(_codes(m, 232, 237) == [], "no phase failure")

    async def back():
        b.afe.configure(2, u_angle=-120.0)
        b.afe.configure(3, u_angle=120.0)
        await _windows(b, 8)
    asyncio.run(back())
    _check(_service(m, "power_quality").sequence.active is False, "sequence normal again")
    m.power_off()


def test_normal_sequence_raises_nothing():
    b, m = _meter()

    async def run():
        await _windows(b, 12)
    asyncio.run(run())
    _check(88 not in _codes(m), "no event 88")
    _check(m.metrology.last.sequence == 1, "L1-L2-L3")
    m.power_off()
