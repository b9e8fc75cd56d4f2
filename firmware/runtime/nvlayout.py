"""The meter's NV memory map: the record store first, then the ring buffers.

Both tables below fix the layout: rows are only ever appended (a new firmware keeps reading the
records and rings of an older one). Records live in an A/B record store (runtime.nvstore) of
RECORDS_REGION bytes at offset 0; rings (runtime.ringstore) follow it, each in a region of
`ringstore.region_size(entry_size, capacity)` bytes.

On an NV memory too small for every ring at its nominal capacity (a small FRAM), every ring gets
the same fraction of its capacity (at least 1 entry); `ring_capacity` says what a ring got.
"""
from runtime import nvstore, ringstore

RECORDS_REGION = 32768

# (key, maximum data length): see runtime.meter and the services for what each holds.
RECORDS = (
    ("cal", 256),           # calibration (measure.calibration)
    ("energy", 512),        # energy record version 1 of older firmware: only read, to refuse it
    ("ic", 8),              # invocation counter reservation (runtime.cosem_service)
    ("clock", 32),          # time zone and DST rule (runtime.clock_settings)
    ("keys", 48),           # security policy and suite 0 keys (runtime.key_transfer)
    ("registers", 1024),    # energy record version 2: totals, phases and tariff registers
    ("calendar", 1024),     # activity calendar, active and passive (records.pack_calendar)
    ("special", 512),       # special days table (records.pack_special_days)
)

# (name, entry size in bytes, nominal capacity in entries)
RINGS = (
)


def open_store(nv):
    """The NV record store with every record of RECORDS registered (fixed layout)."""
    store = nvstore.NvStore(nv, 0, min(RECORDS_REGION, nv.size))
    for key, size in RECORDS:
        store.register(key, size)
    return store


def _scale(nv_size):
    # (numerator, denominator) applied to every nominal capacity so that all rings fit.
    need = 0
    for _, size, cap in RINGS:
        need += ringstore.region_size(size, cap)
    room = nv_size - RECORDS_REGION
    if need <= room:
        return 1, 1
    return max(room, 0), need


def ring_capacity(nv_size, name):
    """Capacity in entries ring `name` gets on an NV memory of `nv_size` bytes."""
    num, den = _scale(nv_size)
    for n, _, cap in RINGS:
        if n == name:
            return max(1, cap * num // den)
    raise KeyError("no NV ring %r" % (name,))


def open_ring(nv, name):
    """The RingStore of ring `name` (recovered from NV). ValueError if NV cannot hold it."""
    num, den = _scale(nv.size)
    base = RECORDS_REGION
    for n, size, cap in RINGS:
        cap = max(1, cap * num // den)
        if n == name:
            if base + ringstore.region_size(size, cap) > nv.size:
                raise ValueError("NV memory of %d bytes cannot hold ring %r" % (nv.size, name))
            return ringstore.RingStore(nv, base, size, cap)
        base += ringstore.region_size(size, cap)
    raise KeyError("no NV ring %r" % (name,))
