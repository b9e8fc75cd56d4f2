"""Meter ratings of the models (nominal voltage, currents, LED constants, registration mode).

Defaults: ME382-D1 230 V 5(85) A single phase; MT382-D1 3x230/400 V 5(85) A; 50 Hz; LEDs
1000 imp/kWh and 1000 imp/kvarh; vector registration. A phase registers nothing below
`noload_ppm` of Un*Ib apparent power (default 2500 ppm: 2.875 VA, under the 4.6 VA of the
0.4 % Ib starting current at Un and well over the front-end noise at 115 % Un).
Suggested front-end full scale (code 2**(bits-1)): 500 V peak and 200 A peak.
"""
from measure.energy import MODE_VECTOR

U_PEAK_MV = 500000
I_PEAK_MA = 200000

_CHANNELS = {1: ("U1", "I1", "IN"), 3: ("U1", "I1", "U2", "I2", "U3", "I3", "IN")}


class Rating:
    """Electrical rating and registration settings of one meter model."""

    def __init__(self, name, phases, un_mv=230000, ib_ma=5000, imax_ma=85000, fn_hz=50,
                 led_imp_kwh=1000, led_imp_kvarh=1000, mode=MODE_VECTOR, noload_ppm=2500):
        if phases not in _CHANNELS:
            raise ValueError("phases must be 1 or 3")
        self.name = name
        self.phases = phases
        self.un_mv = un_mv
        self.ib_ma = ib_ma
        self.imax_ma = imax_ma
        self.fn_hz = fn_hz
        self.led_imp_kwh = led_imp_kwh
        self.led_imp_kvarh = led_imp_kvarh
        self.mode = mode
        self.noload_ppm = noload_ppm

    @property
    def channels(self):
        """Channel order inside a front-end frame."""
        return _CHANNELS[self.phases]

    @property
    def noload_uva(self):
        """Per-phase apparent power (uVA) below which nothing is registered."""
        return self.un_mv * self.ib_ma * self.noload_ppm // 1000000


def for_model(model, **changes):
    """The rating of "me382" or "mt382", with keyword overrides (e.g. led_imp_kwh=10000)."""
    if model == "me382":
        return Rating("ME382-D1", 1, **changes)
    if model == "mt382":
        return Rating("MT382-D1", 3, **changes)
    raise ValueError("unknown model %r" % (model,))
