"""Load and billing profiles (application spec section 7): the capture objects of each profile,
the column kind stored for each (runtime.profile_buffer) and the object rows.

PROFILES: (key, profile OBIS, status register OBIS or None, columns) with a column
(class_id, OBIS, attribute, kind, value) and value: "clock", "status", an energy name of
measure.energy.NAMES (total register), (name, tariff) for a tariff register, or ("md", name) /
("md_time", name) for the maximum demand (W, var) of the billing period that ends and its time
(billing profile 1 only). Energy columns hold the register value (whole Wh, varh: the register's
truncation) as double-long-unsigned.
"""
from dlms import axdr
from cosem import obis
from cosem.data import Data
from cosem.profile import FIFO, ProfileGeneric

CLOCK = "0-0:1.0.0"
TARIFFS = 8

_ENERGY_C = {"A+": 1, "A-": 2, "R+": 3, "R-": 4, "QI": 5, "QII": 6, "QIII": 7, "QIV": 8}


def _clock():
    return 8, CLOCK, 2, "T", "clock"


def _status(ln):
    return 1, ln, 2, "B", "status"


def _total(name):
    return 3, "1-0:%d.8.0" % _ENERGY_C[name], 2, "I", name


def _tariffs(name):
    return [(3, "1-0:%d.8.%d" % (_ENERGY_C[name], t), 2, "I", (name, t))
            for t in range(1, TARIFFS + 1)]


_BILLING = ([_clock()] + [_total(n) for n in ("A+", "A-", "R+", "R-")] + _tariffs("A+")
            + _tariffs("A-"))


def _max_demand(name):
    ln = "1-0:%d.6.0" % _ENERGY_C[name]
    return [(4, ln, 2, "I", ("md", name)), (4, ln, 5, "T", ("md_time", name))]

PROFILES = (
    ("lp1", "1-0:99.1.0", "0-0:96.10.1",
     [_clock(), _status("0-0:96.10.1")] + [_total(n) for n in
                                           ("A+", "A-", "QI", "QII", "QIII", "QIV")]),
    ("lp2", "1-0:99.2.0", "0-0:96.10.2",
     [_clock(), _status("0-0:96.10.2")] + _tariffs("A+") + _tariffs("A-")),
    ("billing1", "0-0:98.1.0", None, _BILLING + _max_demand("A+") + _max_demand("A-")),
    ("billing2", "0-0:98.2.0", None, _BILLING),
)


def kinds(columns):
    """The runtime.profile_buffer column kinds of a profile."""
    return "".join(c[3] for c in columns)


def capture_objects(columns):
    """The capture objects (class, logical name, attribute, data index) of a profile."""
    return tuple((c[0], obis.parse(c[1]), c[2], 0) for c in columns)


# Management reads, sets capture_period and profile_entries, resets and captures; the
# pre-established client reads. Billing profiles capture on events: their period is fixed.
_LOAD = (None, "rrrbrrrb/xx", "r*")
_BILLING_ACCESS = (None, "rrrrrrrb/xx", "r*")
_STATUS = (None, "r*", "r*")
_OPTIONS = (None, "rb", "r*")

# Load profile options (class 1, unsigned bit field, runtime.profiles OPT_*): manufacturer-specific
# OBIS of our choice, one per load profile.
OPTIONS = {"lp1": "0-0:128.10.1", "lp2": "0-0:128.10.2"}


def rows():
    """The profile objects, their status registers and the load profile options."""
    for key, ln, status, columns in PROFILES:
        acc = _LOAD if status is not None else _BILLING_ACCESS
        yield ln, ProfileGeneric, key, (capture_objects(columns), FIFO, None), acc
        if status is not None:
            yield status, Data, key + ".status", axdr.UNSIGNED, _STATUS
            yield OPTIONS[key], Data, key + ".options", axdr.UNSIGNED, _OPTIONS
