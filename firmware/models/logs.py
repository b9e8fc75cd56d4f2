"""Event logs (application spec section 9) and power failure objects (section 14): the class-7
log profiles {clock, event code} with their event-code objects, the power failure event log
{clock, duration} and the power failure counters, last duration and threshold; the certification
data log 1-0:99.99.0 {clock, modified parameter (OBIS octet-string), old value, new value
(double-long)} with the objects of its last row (manufacturer-specific 0-0:128.99.1-3)."""
from dlms import axdr
from cosem import obis, register
from cosem.data import Data
from cosem.profile import FIFO, ProfileGeneric
from cosem.register import Register
from core import events

_CLOCK = (8, obis.parse("0-0:1.0.0"), 2, 0)
_DURATION = "0-0:96.7.19"
_PARAMETER = "0-0:128.99.1"
_OLD = "0-0:128.99.2"
_NEW = "0-0:128.99.3"
_SECOND = 7
SECONDS = register.scaling(axdr.DOUBLE_LONG_UNSIGNED, 0, _SECOND)

# Management reads, sets profile_entries and resets (a log captures on events only); the
# pre-established client reads.
_LOG = (None, "rrrrrrrb/x-", "r*")
_READ = (None, "r*", "r*")
_THRESHOLD = (None, "rbr/-", "r*")


def rows():
    """Every event log, its event-code object and the power failure objects."""
    for key, ln, code_ln, _ in events.LOGS:
        yield ln, ProfileGeneric, "log." + key, ((_CLOCK, (1, code_ln, 2, 0)), FIFO, None), _LOG
        yield code_ln, Data, "log.%s.code" % key, axdr.UNSIGNED, _READ
    yield ("1-0:99.97.0", ProfileGeneric, "log.power_failure",
           ((_CLOCK, (3, obis.parse(_DURATION), 2, 0)), FIFO, None), _LOG)
    yield "0-0:96.7.21", Data, "power_failure.count", axdr.LONG_UNSIGNED, _READ
    yield "0-0:96.7.9", Data, "power_failure.long_count", axdr.LONG_UNSIGNED, _READ
    yield _DURATION, Register, "power_failure.duration", SECONDS, _READ
    yield "0-0:96.7.20", Register, "power_failure.threshold", SECONDS, _THRESHOLD
    yield ("1-0:99.99.0", ProfileGeneric, "log.certification",
           ((_CLOCK, (1, obis.parse(_PARAMETER), 2, 0), (1, obis.parse(_OLD), 2, 0),
             (1, obis.parse(_NEW), 2, 0)), FIFO, None), _LOG)
    yield _PARAMETER, Data, "certification.parameter", axdr.OCTET_STRING, _READ
    yield _OLD, Data, "certification.old", axdr.DOUBLE_LONG, _READ
    yield _NEW, Data, "certification.new", axdr.DOUBLE_LONG, _READ
