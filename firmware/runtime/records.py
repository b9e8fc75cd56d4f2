"""Wire formats of the records the Meter keeps in the NV record store (the store adds CRC and A/B).

Energy record (version 2), little-endian: version u8 | phases u8 | registers u8 | tariffs u8 |
totals u64 x registers | per-phase registers u64 x registers x phases (three-phase meters only) |
tariff registers u64 x registers x tariffs (tariff 1 first). Totals and tariff registers are
saved together so that after a restart the tariffs still sum to the totals. Register units: mWh,
mvarh, mVAh (measure.energy). The sub-mWh remainder is not kept: a power cycle drops less than
1 mWh per register, below the registers' Wh display resolution. Version 1 (no tariffs) is refused.

Calendar record: version u8 | A-XDR structure {active name, seasons, weeks, days, passive name,
seasons, weeks, days, activation time}, each as the class 20 attribute (cosem.activity_calendar).
Special days record: version u8 | A-XDR array of class 11 entries (cosem.special_days_table).
"""
import struct

from core import calendar, special_days
from cosem import activity_calendar as ac
from cosem import special_days_table as sdt
from dlms import axdr

_ENERGY_VERSION = 2
_CALENDAR_VERSION = 1
_SPECIAL_DAYS_VERSION = 1


def pack_energy(energy, tariffs):
    """Serialise the registers of a measure.energy.Energy and its TariffRegisters."""
    n = len(energy.total)
    rows = [energy.total] + (energy.phase or []) + tariffs.regs
    buf = bytearray(4 + 8 * n * len(rows))
    struct.pack_into("<BBBB", buf, 0, _ENERGY_VERSION, energy.phases, n, len(tariffs.regs))
    off = 4
    for row in rows:
        for v in row:
            struct.pack_into("<Q", buf, off, v)
            off += 8
    return bytes(buf)


def unpack_energy(data, phases, nreg, ntariffs):
    """-> (totals, per-phase rows or None, tariff rows); ValueError if the record does not fit
    this meter."""
    if len(data) < 4:
        raise ValueError("energy record too short")
    version, ph, n, nt = struct.unpack_from("<BBBB", data, 0)
    if version != _ENERGY_VERSION:
        raise ValueError("energy record version %d, this firmware reads version %d"
                         % (version, _ENERGY_VERSION))
    if ph != phases or n != nreg or nt != ntariffs:
        raise ValueError("energy record for %d phases/%d registers/%d tariffs, meter has %d/%d/%d"
                         % (ph, n, nt, phases, nreg, ntariffs))
    nphase = phases if phases > 1 else 0
    nrows = 1 + nphase + nt
    if len(data) != 4 + 8 * n * nrows:
        raise ValueError("energy record length %d, expected %d" % (len(data), 4 + 8 * n * nrows))
    rows = []
    off = 4
    for _ in range(nrows):
        rows.append([struct.unpack_from("<Q", data, off + 8 * k)[0] for k in range(n)])
        off += 8 * n
    return rows[0], (rows[1:1 + nphase] if nphase else None), rows[1 + nphase:]


def _calendar_fields(cal):
    return [(axdr.OCTET_STRING, cal.name), ac.seasons_data(cal), ac.weeks_data(cal),
            ac.days_data(cal)]


def pack_calendar(activity):
    """Serialise a core.calendar.ActivityCalendar (active, passive, activation time)."""
    fields = _calendar_fields(activity.active) + _calendar_fields(activity.passive)
    fields.append((axdr.OCTET_STRING, ac.pattern_octets(activity.activation_time)))
    return bytes((_CALENDAR_VERSION,)) + axdr.encode((axdr.STRUCTURE, fields))


def _payload(data, version, what):
    if len(data) < 1 or data[0] != version:
        raise ValueError("%s record version %d, expected %d"
                         % (what, data[0] if data else -1, version))
    try:
        return axdr.decode_all(bytes(data[1:]))
    except axdr.DecodeError as e:
        raise ValueError("%s record: %s" % (what, e))


def unpack_calendar(data):
    """The core.calendar.ActivityCalendar of a calendar record; ValueError if unusable."""
    f = _payload(data, _CALENDAR_VERSION, "calendar")
    # A record that decodes to something else than the 9-field structure is as unusable.
    if not isinstance(f, tuple) or len(f) != 2 or not isinstance(f[1], list) or len(f[1]) != 9:
        raise ValueError("calendar record is not the calendar structure")
    f = f[1]
    active = ac.calendar_from(f[0][1], f[1], f[2], f[3])
    passive = ac.calendar_from(f[4][1], f[5], f[6], f[7])
    activity = calendar.ActivityCalendar(active, passive)
    activity.set_activation_time(ac.pattern_from(f[8][1]))
    return activity


def pack_special_days(table):
    """Serialise a core.special_days.SpecialDays."""
    return bytes((_SPECIAL_DAYS_VERSION,)) + axdr.encode(sdt.entries_data(table))


def unpack_special_days(data):
    """The core.special_days.SpecialDays of a special days record; ValueError if unusable."""
    return special_days.SpecialDays(sdt.entries_from(
        _payload(data, _SPECIAL_DAYS_VERSION, "special days")))
