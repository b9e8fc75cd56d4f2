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
    ("profiles", 64),       # profile periods, profile_entries, pending status (runtime.profiles)
    ("logs", 64),           # logs record version 1 of older firmware: only read (see logs2)
    ("billing", 1024),      # maxima, cumulative maxima, counter, last billing (core.billing)
    ("billing_cfg", 256),   # demand periods, end of billing schedule (runtime.billing_service)
    ("alarms", 32),         # alarm registers, filters, descriptors (runtime.alarms)
    ("push", 1024),         # push setup attributes (runtime.push)
    ("pq", 32),             # power quality thresholds (runtime.power_quality)
    ("pq_state", 96),       # sag / swell counters, magnitudes, durations (runtime.power_quality)
    ("errors", 12),         # error registers and filter (runtime.error_service)
    ("relay", 8),           # disconnector relay target and state (runtime.relay)
    ("switching", 16),      # control mode and state, limiter/monitor state (runtime.switching)
    ("switch_cfg", 800),    # limiter, monitor, disconnect scheduler settings (runtime.switching)
    ("tariff_ctl", 12),     # tariff switch source, manual activation (runtime.tariff_service)
    ("push_sched", 64),     # push action schedule: type, execution times, handled up to
    ("keys_ext", 40),       # broadcast and master keys (runtime.key_transfer)
    ("logs2", 128),         # alive instant, power failure counters, log sizes (runtime.logs)
    ("watchdog", 4),        # watchdog counter (runtime.watchdog)
)

# (name, entry size in bytes, nominal capacity in entries)
RINGS = (
    ("profile.lp1", 29, 3072),          # load profile 1: 32 days of 15-minute rows
    ("profile.lp2", 69, 45),            # load profile 2: daily rows
    ("profile.billing1", 100, 15),      # billing profile 1
    ("profile.billing2", 84, 40),       # billing profile 2: daily billing values
    ("log.standard", 5, 200),           # event logs: {time, code} (runtime.logs)
    ("log.fraud", 5, 50),
    ("log.disconnector", 5, 50),
    ("log.mbus", 5, 50),
    ("log.power_quality", 5, 100),
    ("log.communication", 5, 50),
    ("log.mbus_control_1", 5, 20),
    ("log.mbus_control_2", 5, 20),
    ("log.mbus_control_3", 5, 20),
    ("log.mbus_control_4", 5, 20),
    ("log.power_failure", 8, 30),       # power failure event log: {end, duration}
    ("log.certification", 18, 50),      # certification data log: {time, OBIS, old, new}
)


def open_store(nv):
    """The NV record store with every record of RECORDS registered (fixed layout)."""
    store = nvstore.NvStore(nv, 0, min(RECORDS_REGION, nv.size))
    for key, size in RECORDS:
        store.register(key, size)
    return store


def _scale(nv_size):
    # (numerator, denominator) applied to every nominal capacity so that all rings fit. A ring
    # of capacity c takes (c + 1) slots: the spare slot of each ring is a fixed overhead.
    need = fixed = 0
    for _, size, cap in RINGS:
        slot = ringstore.region_size(size, 0)
        need += cap * slot
        fixed += slot
    room = nv_size - RECORDS_REGION
    if need + fixed <= room:
        return 1, 1
    return max(room - fixed, 0), need


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
