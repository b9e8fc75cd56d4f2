"""Per-tariff energy registers (1-0:c.8.1 .. c.8.8) fed from the totals of `measure.energy`.

Each whole unit (mWh / mvarh / mVAh) the total of a quantity gains is booked to the tariff active
when it was completed, so the sum over the tariffs equals the total exactly (modulo the register
width). A unit that is only partly measured when the tariff changes goes to the new tariff: the
error per tariff is below one unit per switch. `step` splits a measurement step at every tariff
switch inside it, at the exact microsecond, so the energy before the switch is registered before
the switch is booked.

Quantities masked out for a tariff (`tariff.RegisterActivation`) are counted in `unassigned`
instead: total == sum over tariffs + unassigned always holds.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_US = const(1000000)


class TariffRegisters:
    """Registers regs[tariff - 1][quantity] for `tariffs` tariffs and `nreg` quantities.

    `modulus`: registers roll over to 0 at this value (e.g. 10**11 mWh for an 8-digit kWh
    display); None: no rollover. `activation` is a `tariff.RegisterActivation` or None (all
    quantities integrate in every tariff).
    """

    def __init__(self, nreg, tariffs=8, modulus=None, activation=None):
        if modulus is not None and modulus <= 0:
            raise ValueError("register modulus must be positive")
        self.nreg = nreg
        self.modulus = modulus
        self.activation = activation
        self.regs = [[0] * nreg for _ in range(tariffs)]
        self.unassigned = [0] * nreg
        self._seen = [0] * nreg

    def sync(self, totals):
        """Take the totals as already booked (start-up, after restoring registers)."""
        self._seen[:] = totals

    def book(self, totals, tariff):
        """Book the growth of the totals since the last call to `tariff` (1..n)."""
        seen = self._seen
        regs = self.regs[tariff - 1]
        mask = -1 if self.activation is None else self.activation.mask(tariff)
        mod = self.modulus
        for n in range(self.nreg):
            d = totals[n] - seen[n]
            if d:
                seen[n] = totals[n]
                if mask >> n & 1:
                    v = regs[n] + d
                    regs[n] = v if mod is None else v % mod
                else:
                    self.unassigned[n] += d

    def step(self, energy, tou, p_uw, q_uvar, s_uva, dt_us, t_end_us, utc_s, sub_us):
        """Feed one measurement step into `energy` (a `measure.energy.Energy`) and book it.

        The step starts at UTC second `utc_s` plus `sub_us` microseconds (0 <= sub_us < 10**6)
        and lasts dt_us; `tou` is a `tariff.TimeOfUse`. Returns the tariff at the step's end.
        """
        tariff = tou.active_tariff(utc_s)
        end_s = utc_s + (sub_us + dt_us) // _US
        done = 0
        t = utc_s
        while True:
            sw = tou.next_switch(t, end_s)
            if sw is None:
                break
            cut = (sw - utc_s) * _US - sub_us
            if cut >= dt_us:
                break
            if cut > done:
                energy.accumulate(p_uw, q_uvar, s_uva, cut - done, t_end_us - dt_us + cut)
                self.book(energy.total, tariff)
                done = cut
            tariff = tou.active_tariff(sw)
            t = sw
        energy.accumulate(p_uw, q_uvar, s_uva, dt_us - done, t_end_us)
        self.book(energy.total, tariff)
        return tariff

    def value(self, tariff, quantity):
        """Register of `quantity` for `tariff` (1..n)."""
        return self.regs[tariff - 1][quantity]
