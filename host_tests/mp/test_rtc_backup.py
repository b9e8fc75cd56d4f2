# RTC backup on the host board: an outage longer than the backup leaves the clock invalid, which
# the clock object, the error register, the standard event log and the load profile status show
# until a client sets the clock.
import asyncio

import hw
from runtime import cosem_service
from runtime import meter as meter_mod

START = 86400 * 365 * 27
DAY = 86400


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def _service(m, name):
    for s in m.services:
        if type(s).__module__.endswith(name):
            return s
    raise AssertionError("no service " + name)


def _board():
    return hw.Board("me382", {"start": START, "state_dir": None, "realtime": False,
                              "nv_size": 131072, "rtc_backup_s": 2 * DAY})


def test_short_outage_keeps_the_time():
    b = _board()
    b.cut_power()
    b.restore_power(DAY)
    _check(b.clock.valid() and b.clock.now() == START + DAY, b.clock.now())


def test_outage_beyond_the_backup_invalidates_the_clock_until_it_is_set():
    b = _board()
    m = meter_mod.Meter(b, {"model": "me382"})
    m.power_on_sync()
    _, src = cosem_service.build(m)
    _check(src.read("clock.status") & 1 == 0, "valid at first")

    async def run():
        await m.advance(600)
        b.cut_power()
        m.power_off()
        b.restore_power(5 * DAY)
        m.power_on_sync()
        await m.advance(900)
    asyncio.run(run())
    # The RTC stopped when its backup ran out, 2 days into the outage.
    _check(not b.clock.valid(), "clock still valid")
    _check(START + 600 + 2 * DAY <= b.clock.now() <= START + 600 + 2 * DAY + 1000, b.clock.now())
    _check(src.read("clock.status") & 1 == 1, "clock status bit 0")
    _check(src.read("clock.time")[11] & 1 == 1, "time status octet")
    m.save()
    _check(src.read("errors.idis") & 1 == 1, "error register bit 0")
    _check(m.events.alarm[0] & 1 == 1, "alarm register 1 bit 0")
    prof = _service(m, "profiles").by_key["lp1"]
    _check(prof.status & 0x02 or prof.buffer.values(len(prof.buffer) - 1)[1] & 0x02,
           "load profile status: clock invalid")
    m.set_time(b.clock.now() + 2 * DAY)
    _check(b.clock.valid() and src.read("clock.status") & 1 == 0, "valid again once set")
    m.power_off()
