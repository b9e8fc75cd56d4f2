"""Wire formats of the records the Meter keeps in the NV record store (the store adds CRC and A/B).

Energy record, little-endian: version u8 | phases u8 | registers u8 | totals u64 x registers |
per-phase registers u64 x registers x phases (three-phase meters only). Register units: mWh, mvarh,
mVAh (measure.energy). The sub-mWh remainder is not kept: a power cycle drops less than 1 mWh per
register, below the registers' Wh display resolution.
"""
import struct

_ENERGY_VERSION = 1


def pack_energy(energy):
    """Serialise the registers of a measure.energy.Energy."""
    n = len(energy.total)
    rows = [energy.total] + (energy.phase or [])
    buf = bytearray(3 + 8 * n * len(rows))
    struct.pack_into("<BBB", buf, 0, _ENERGY_VERSION, energy.phases, n)
    off = 3
    for row in rows:
        for v in row:
            struct.pack_into("<Q", buf, off, v)
            off += 8
    return bytes(buf)


def unpack_energy(data, phases, nreg):
    """-> (totals, per-phase rows or None); ValueError if the record does not fit this meter."""
    if len(data) < 3:
        raise ValueError("energy record too short")
    version, ph, n = struct.unpack_from("<BBB", data, 0)
    if version != _ENERGY_VERSION or ph != phases or n != nreg:
        raise ValueError("energy record v%d for %d phases/%d registers, meter has %d/%d"
                         % (version, ph, n, phases, nreg))
    nrows = 1 + (phases if phases > 1 else 0)
    if len(data) != 3 + 8 * n * nrows:
        raise ValueError("energy record length %d, expected %d" % (len(data), 3 + 8 * n * nrows))
    rows = []
    off = 3
    for _ in range(nrows):
        rows.append([struct.unpack_from("<Q", data, off + 8 * k)[0] for k in range(n)])
        off += 8 * n
    return rows[0], (rows[1:] if phases > 1 else None)
