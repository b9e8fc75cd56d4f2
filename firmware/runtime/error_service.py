"""Error registers (application 11.3, docs/errors.md): what the running meter found wrong with
itself, latched until a client clears it.

* IDIS error register 0-0:97.97.0: the bits of alarm register 1 (0 clock invalid, 8 program
  memory, 9 RAM, 10 NV memory, 11 measurement system, 12 watchdog, 13 fraud attempt).
* Error filter 0-0:97.97.10 (our OBIS): an IDIS bit latches only where the filter has a 1.
* Manufacturer error register 0-0:97.97.1: our own detail bits (IE_* below), never filtered;
  each maps to an IDIS bit. IE_FATAL is the fatal error flag ("FF"): set with the first fatal
  error, it raises event 230.

Detection: at every boot the NV records the Meter restores are parsed again (a record present
but unusable means the Meter fell back to defaults) and the record store's health is read (a
record with no valid copy left); at every periodic and power-fail save the front end's overrun
counter, the record store's write failures and the board clock (`valid()`, where the board has
it) are checked; a boot after a watchdog reset latches IE_WATCHDOG (runtime.watchdog tells it with
meter.notify("watchdog")). An IDIS bit newly latched raises its event (6, 14 or 16; the watchdog's
event 15 is raised by runtime.watchdog at every watchdog reset); writing 0 to an error register
clears it and raises event 10. The three registers live in the NV record "errors".
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from measure.calibration import Calibration
from measure.energy import NREG
from runtime import clock_settings, key_transfer, log, records
from runtime import meter as meter_mod
from runtime.service import Service

KEY = "errors"
_FMT = "<III"   # IDIS register, manufacturer register, filter

# IDIS error register bits (as alarm register 1).
CLOCK_INVALID = const(0x1)
NV_MEMORY = const(0x400)
MEASUREMENT = const(0x800)
WATCHDOG = const(0x1000)
FILTER_DEFAULT = 0xFFFFFFFF

# Manufacturer error register bits (our definition).
IE_CALIBRATION = const(0x1)   # calibration record unusable: factory calibration in use
IE_ENERGY = const(0x2)        # energy record unusable: registers restarted at zero
IE_SETTINGS = const(0x4)      # calendar, special days, clock or keys record unusable: defaults
IE_RECORD_LOST = const(0x8)   # a record written before has no valid copy left
IE_NV_WRITE = const(0x10)     # the NV memory refused a write
IE_OVERRUN = const(0x20)      # the front end lost sample blocks (measurement gap)
IE_CLOCK = const(0x40)        # the board clock reports an invalid time
IE_WATCHDOG = const(0x80)     # the MCU was restarted by its watchdog
IE_FATAL = const(0x8000)      # fatal error flag ("FF"): one of _FATAL latched

_FATAL = const(0x13)   # calibration, energy record, NV write

# (manufacturer bit, IDIS bit, what the log says)
_MAP = (
    (IE_CALIBRATION, MEASUREMENT, "calibration record unusable"),
    (IE_ENERGY, NV_MEMORY, "energy record unusable"),
    (IE_SETTINGS, NV_MEMORY, "settings record unusable"),
    (IE_RECORD_LOST, NV_MEMORY, "NV record lost"),
    (IE_NV_WRITE, NV_MEMORY, "NV write failed"),
    (IE_OVERRUN, MEASUREMENT, "front end overrun"),
    (IE_CLOCK, CLOCK_INVALID, "clock invalid"),
    (IE_WATCHDOG, WATCHDOG, "watchdog reset"),
)

# (IDIS bit, event raised when it latches); WATCHDOG has none here: runtime.watchdog raises
# event 15 at every watchdog reset, latched or not.
_EVENTS = ((CLOCK_INVALID, 6), (NV_MEMORY, 14), (MEASUREMENT, 16))
_EVENT_CLEARED = const(10)
_EVENT_FATAL = const(230)


class ErrorService(Service):
    """The error registers of one Meter."""

    def __init__(self, meter):
        self.meter = meter
        self.idis = 0
        self.ie = 0
        self.filter = FILTER_DEFAULT
        self._overruns = 0
        self._nv_errors = 0
        self._on = False    # between power_on and power_off: the checks have their baselines
        meter.listen("watchdog", lambda: self.latch(IE_WATCHDOG))

    def bind(self, sources):
        g = sources.getters
        s = sources.setters
        g["errors.idis"] = lambda: self.idis
        g["errors.ie"] = lambda: self.ie
        g["errors.filter"] = lambda: self.filter
        s["errors.idis"] = self.clear_idis
        s["errors.ie"] = self.clear_ie
        s["errors.filter"] = self.set_filter

    def power_on(self, now_s):
        bad = self._load()
        m = self.meter
        self._overruns = m.board.afe.overruns
        self._nv_errors = m.store.write_errors
        self._on = True
        self.latch(bad | self._boot_errors() | self._running_errors())

    def save(self):
        if self._on:
            self.latch(self._running_errors())

    def power_off(self, now_s, hard):
        self._on = False

    # -- detection ---------------------------------------------------------------------------

    def _boot_errors(self):
        # Records present but unusable: the Meter logged them and fell back to defaults.
        m = self.meter
        store = m.store
        bits = 0
        raw = store.read(meter_mod.KEY_CAL)
        if raw and _unusable(lambda: Calibration.load(raw, m.nphases)):
            bits |= IE_CALIBRATION
        raw = store.read(meter_mod.KEY_REGISTERS)
        if raw is None:
            raw = store.read(meter_mod.KEY_ENERGY)
        if raw is not None and _unusable(
                lambda: records.unpack_energy(raw, m.nphases, NREG, meter_mod.TARIFFS)):
            bits |= IE_ENERGY
        for key, parse in ((meter_mod.KEY_CALENDAR, records.unpack_calendar),
                           (meter_mod.KEY_SPECIAL_DAYS, records.unpack_special_days),
                           (meter_mod.KEY_CLOCK, clock_settings.unpack),
                           (meter_mod.KEY_KEYS, key_transfer.unpack)):
            raw = store.read(key)
            if raw is not None and _unusable(lambda: parse(raw)):
                bits |= IE_SETTINGS
        if store.health()["lost"]:
            bits |= IE_RECORD_LOST
        return bits

    def _running_errors(self):
        m = self.meter
        bits = 0
        n = m.board.afe.overruns
        if n != self._overruns:
            self._overruns = n
            bits |= IE_OVERRUN
        n = m.store.write_errors
        if n != self._nv_errors:
            self._nv_errors = n
            bits |= IE_NV_WRITE
        valid = getattr(m.board.clock, "valid", None)
        if valid is not None and not valid():
            bits |= IE_CLOCK
        return bits

    # -- latching and clearing ---------------------------------------------------------------

    def latch(self, ie_bits):
        """Latch manufacturer error bits `ie_bits` (and their IDIS bits through the filter);
        raise the events of newly latched IDIS bits and, with the first fatal error, event 230."""
        new = ie_bits & ~self.ie
        if not new:
            return
        idis = 0
        for bit, idis_bit, what in _MAP:
            if new & bit:
                idis |= idis_bit
                log.error("error register: %s", what)
        idis &= self.filter & ~self.idis
        fatal = new & _FATAL and not self.ie & IE_FATAL
        self.ie |= new | (IE_FATAL if fatal else 0)
        self.idis |= idis
        try:
            self._persist(self.idis, self.ie, self.filter)
        except OSError:
            pass    # counted by the store: the next check latches IE_NV_WRITE
        for bit, code in _EVENTS:
            if idis & bit:
                self.meter.raise_event(code)
        if fatal:
            self.meter.raise_event(_EVENT_FATAL)

    def clear_idis(self, value):
        """COSEM write of 0-0:97.97.0: 0 clears it (event 10); anything else is refused."""
        _zero(value)
        self._persist(0, self.ie, self.filter)
        self.idis = 0
        self.meter.raise_event(_EVENT_CLEARED)

    def clear_ie(self, value):
        """COSEM write of 0-0:97.97.1: 0 clears it, the fatal flag included (event 10)."""
        _zero(value)
        self._persist(self.idis, 0, self.filter)
        self.ie = 0
        self.meter.raise_event(_EVENT_CLEARED)

    def set_filter(self, value):
        """COSEM write of the error filter 0-0:97.97.10 (kept in NV before it applies)."""
        self._persist(self.idis, self.ie, value)
        self.filter = value

    # -- NV ----------------------------------------------------------------------------------

    def _load(self):
        # The registers from NV; returns IE_SETTINGS if the record is unusable (else 0).
        raw = self.meter.store.read(KEY)
        self.idis, self.ie, self.filter = 0, 0, FILTER_DEFAULT
        if raw is None:
            return 0
        if len(raw) != struct.calcsize(_FMT):
            log.error("error record unusable (%d octets): registers start clear", len(raw))
            return IE_SETTINGS
        self.idis, self.ie, self.filter = struct.unpack(_FMT, raw)
        return 0

    def _persist(self, idis, ie, flt):
        self.meter.store.write(KEY, struct.pack(_FMT, idis, ie, flt))


def _unusable(parse):
    try:
        parse()
    except ValueError:
        return True
    return False


def _zero(value):
    if value != 0:
        raise ValueError("an error register is cleared by writing 0")


def make(meter):
    """The error service of `meter`."""
    return ErrorService(meter)
