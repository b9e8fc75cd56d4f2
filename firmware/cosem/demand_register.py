"""The sources of the demand objects of one quantity over a `core.demand.Demand`.

The interface classes are those of `cosem.register`: class 5 DemandRegister (current average,
1-0:c.4.0), class 4 ExtendedRegister (last average c.5.0 with its capture time; maximum demand
c.6.0 total and c.6.1..8 per tariff with the time of the maximum) and class 3 Register
(cumulative maximum demand c.2.0..8). Values are whole W / var / VA (scaler 0, divisor 1).

Source names for a quantity bound as `name` (e.g. "A+"):

* "demand.<name>.<attribute>" for class 5 "demand.<name>" (current_average_value,
  last_average_value, status, capture_time, start_time_current, period, number_of_periods; the
  service adds the setters of period / number_of_periods and the reset / next_period actions);
* "demand.<name>.last" (+ ".status", ".capture_time");
* "md.<name>" and "md.<name>.t<k>" (+ ".status", ".capture_time");
* "cmd.<name>" and "cmd.<name>.t<k>".

`getters(name, get, pending, rule, tariffs)` builds them: `get()` gives the Demand in force (the
service may replace it when its period changes), `pending()` the energy measured but not fed yet,
`rule()` the clock's DST rule for the date-time octets (local time with its deviation, as the
clock shows them).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from core import dst

# Sub-period lengths allowed (s): divisors of an hour, so that periods stay aligned to the local
# wall clock across DST changes; number_of_periods up to MAX_PERIODS.
PERIODS = (60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800, 3600)
MAX_PERIODS = const(15)

NOT_SPECIFIED = axdr.pack_datetime()


def check_period(period, n):
    """Raise ValueError unless (period, number_of_periods) is a demand setting we support."""
    if period not in PERIODS or not 1 <= n <= MAX_PERIODS:
        raise ValueError("period must divide an hour (60..3600 s), 1..%d periods" % MAX_PERIODS)


def datetime_octets(t, rule):
    """The 12 date-time octets of UTC second `t` as the clock shows it (None: not specified)."""
    if t is None:
        return NOT_SPECIFIED
    y, mo, d, wd, h, mi, s, deviation, active = dst.clock_fields(t, rule)
    return axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, deviation,
                              axdr.STATUS_DST if active else 0)


def _status(flags):
    return axdr.UNSIGNED, flags


def _no_status():
    # Maximum demand registers carry no status of their own.
    return axdr.UNSIGNED, 0


def getters(name, get, pending, rule, tariffs=8):
    """{source name: f()} of every demand object of quantity `name` with `tariffs` maximum
    demand tariffs (see the module doc)."""
    b = "demand." + name
    g = {
        b + ".current_average_value": lambda: get().current_average_value(pending()),
        b + ".last_average_value": lambda: get().last_average_value,
        b + ".status": lambda: _status(get().status),
        b + ".capture_time": lambda: datetime_octets(get().capture_time, rule()),
        b + ".start_time_current": lambda: datetime_octets(get().start_time_current, rule()),
        b + ".period": lambda: get().period,
        b + ".number_of_periods": lambda: get().n,
        b + ".last": lambda: get().last_average_value,
        b + ".last.status": lambda: _status(get().status),
        b + ".last.capture_time": lambda: datetime_octets(get().capture_time, rule()),
    }
    for k in range(tariffs + 1):
        suffix = ".t%d" % k if k else ""
        g.update(_tariff(name + suffix, k, get, rule))
    return g


def _tariff(key, k, get, rule):
    md = "md." + key
    return {
        md: lambda: get().max_value[k],
        md + ".status": _no_status,
        md + ".capture_time": lambda: datetime_octets(get().max_time[k], rule()),
        "cmd." + key: lambda: get().cum_value[k],
    }
