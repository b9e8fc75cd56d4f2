# Tariffication control (runtime.tariff_service) under MicroPython: manual activation by script,
# energy booked to the activated tariff, the switch source, NV across a reboot.
import asyncio
import gc

import hw
from core import tariff
from runtime import meter as meter_mod
from runtime import tariff_service as ts

START = 821793600   # Thursday 2026-01-15 12:00 UTC: 13:00 CET, tariff 2 by the default calendar
NIGHT = 821826000   # 22:00 CET


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def _boot(board):
    m = meter_mod.Meter(board, {"model": "me382"})
    m.power_on_sync()
    for s in m.services:
        if isinstance(s, ts.TariffService):
            return m, s


def _sums(m):
    for q in range(len(m.energy_regs.total)):
        _check(sum(r[q] for r in m.tariff_regs.regs) == m.energy_regs.total[q], q)


def test_script_books_energy_to_the_activated_tariff():
    meter_mod.current = None
    gc.collect()

    async def main():
        board = hw.Board("me382", {"start": START, "state_dir": None, "realtime": False})
        board.afe.configure(None, u=230.0, i=10.0, phi=0.0)
        m, svc = _boot(board)
        _check(m.active_tariff() == 2, m.active_tariff())
        svc.execute(3)
        await m.advance(3600)
        a3 = m.tariff_regs.regs[2][0]
        _check(2277000 < a3 < 2323000, a3)
        _check(m.tariff_regs.regs[1][0] == 0, m.tariff_regs.regs[1])
        _sums(m)
        await m.advance(NIGHT - board.clock.now() + 60)
        _check(m.active_tariff() == 1, "the calendar switch ends the activation")
        svc.set_source(tariff.SOURCE_MANUAL)
        svc.execute(8)
        m.power_off()
        m, svc = _boot(board)
        _check(m.tou.source == tariff.SOURCE_MANUAL and m.active_tariff() == 8, "from NV")
        await m.advance(600)
        _check(m.tariff_regs.regs[7][0] > 0, m.tariff_regs.regs[7])
        _sums(m)
        m.power_off(True)
    asyncio.run(main())


def test_record_round_trip():
    state = (tariff.SOURCE_CALENDAR, 5, (5, START, NIGHT))
    _check(ts.unpack(ts.pack(state)) == state, ts.unpack(ts.pack(state)))
    state = (tariff.SOURCE_MANUAL, 2, None)
    _check(ts.unpack(ts.pack(state)) == state, "no override")


def test_register_activation_class():
    from cosem import errors
    from cosem.register_activation import RegisterActivation, argument
    from models import tariff_control as tc
    rows = list(tc.rows())
    energy, demand = rows[0], rows[1]
    regs = RegisterActivation.get(None, energy, 2, None, None)[1]
    _check(len(regs) == 96 and regs[95][1][1][1] == bytes((1, 0, 16, 8, 8, 255)), regs[95])
    masks = RegisterActivation.get(None, demand, 3, None, None)[1]
    _check(masks[7][1][0][1] == b"T8" and len(masks[7][1][1][1]) == 6, masks[7])
    try:
        RegisterActivation.invoke(None, energy, 3, (9, b"T1"))
        raise AssertionError("delete_mask must be refused")
    except errors.ReadWriteDenied:
        pass
    try:
        argument([(3, "1-0:1.8.1")], [(b"T1", (2,))])
        raise AssertionError("an index outside the assignment must be refused")
    except ValueError:
        pass
