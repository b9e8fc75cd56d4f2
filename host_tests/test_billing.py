"""End of billing: snapshots, bounded history, counter, maximum demand reset and cumulation,
schedule trigger, NV record round trip and precise refusal of corrupt records."""
import struct
from binascii import crc32

from hypothesis import given, settings, strategies as st
import pytest

from core import billing, civil, demand, dst, schedule

CET = dst.eu_rule(-60)
T0 = civil.to_epoch(2026, 1, 5)


def make(depth=3, nd=2):
    ds = [demand.Demand(900, 1, tariffs=2, offset_s=3600) for _ in range(nd)]
    for d in ds:
        d.start(T0)
    return billing.Billing(3, 2, ds, depth, schedule.monthly(CET)), ds


def load_peak(ds, t, mwh, tariff):
    """One complete 15-minute period with `mwh` on each demand register, ending at or after t."""
    for d in ds:
        while d.next_boundary() < t:
            d.feed(0, d.next_boundary(), tariff)
        b = d.next_boundary()
        d.feed(0, b, tariff)
        d.feed(mwh, d.next_boundary(), tariff)
    return ds[0].capture_time


def test_snapshot_counter_history_and_demand_reset():
    b, ds = make()
    p = load_peak(ds, T0 + 7200, 250000, 2)            # 1000 W in tariff 2
    snap = b.end_of_billing(T0 + 86400, [10, 20, 30], [[4, 5, 6], [6, 15, 24]])
    assert snap[:4] == (1, T0 + 86400, [10, 20, 30], [[4, 5, 6], [6, 15, 24]])
    assert snap[4][0] == ([1000, 0, 1000], [p, None, p], [1000, 0, 1000])
    assert ds[0].max_value == [0, 0, 0] and ds[0].cum_value == [1000, 0, 1000]
    assert b.counter == 1 and b.last_reset == T0 + 86400
    load_peak(ds, T0 + 2 * 86400, 125000, 1)           # 500 W in tariff 1
    b.end_of_billing(T0 + 3 * 86400, [1, 2, 3], [[1, 1, 1], [0, 1, 2]])
    assert ds[1].cum_value == [1500, 500, 1000]
    assert b.history[0][4][1][2] == [1500, 500, 1000]
    for k in range(4):
        b.end_of_billing(T0 + (4 + k) * 86400, [0, 0, 0], [[0] * 3, [0] * 3])
    assert [s[0] for s in b.history] == [6, 5, 4] and b.counter == 6


def test_hook_sees_the_maxima_before_the_reset_and_depth_zero_keeps_no_history():
    b, ds = make(depth=0)
    load_peak(ds, T0 + 7200, 250000, 2)
    seen = []
    snap = b.end_of_billing(T0 + 86400, [1, 2, 3], [[0] * 3, [1, 2, 3]],
                            lambda s: seen.append((s, ds[0].max_value[:], b.counter)))
    assert seen == [(snap, [1000, 0, 1000], 1)]
    assert b.history == [] and ds[0].max_value == [0, 0, 0]
    again, _ = make(depth=0)
    again.load(b.to_bytes())
    assert (again.counter, again.last_reset, again.history) == (1, T0 + 86400, [])
    assert again.demands[0].cum_value == [1000, 0, 1000]


def test_schedule_trigger_once_after_outage():
    b, ds = make()
    z = ([0, 0, 0], [[0] * 3, [0] * 3])
    assert b.poll(T0, *z) is None
    assert b.poll(civil.to_epoch(2026, 1, 31, 22, 59, 59), *z) is None
    assert b.poll(civil.to_epoch(2026, 1, 31, 23), *z)[0] == 1    # 00:00 CET Feb 1st
    assert b.poll(civil.to_epoch(2026, 5, 3), *z)[0] == 2         # three missed: once
    assert b.poll(civil.to_epoch(2026, 5, 4), *z) is None


def filled(depth=3):
    b, ds = make(depth)
    for k in range(depth + 1):
        load_peak(ds, T0 + k * 86400 + 3600, 1000 * (k + 1), 1 + k % 2)
        b.end_of_billing(T0 + k * 86400 + 7200, [k, 2 * k, 2 ** 40 + k],
                         [[k, k, k], [0, k, 2 ** 40]])
    load_peak(ds, T0 + 20 * 86400, 77777, 2)
    return b, ds


def test_round_trip():
    b, ds = filled()
    data = b.to_bytes()
    b2, ds2 = make()
    b2.load(data)
    assert (b2.counter, b2.last_reset, b2.history) == (b.counter, b.last_reset, b.history)
    for x, y in zip(ds, ds2):
        assert (x.max_value, x.max_time, x.cum_value) == (y.max_value, y.max_time, y.cum_value)
    assert b2.to_bytes() == data
    empty, _ = make()
    fresh, _ = make()
    fresh.load(empty.to_bytes())
    assert fresh.history == [] and fresh.last_reset is None


def with_crc(data):
    body = bytes(data[:-4])
    return body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def test_refuses_corrupt_records_precisely():
    b, _ = filled()
    data = bytearray(b.to_bytes())
    cases = [
        (data[:10], "truncated"),
        (with_crc(b"XX" + data[2:]), "magic"),
        (with_crc(data[:2] + b"\x07" + data[3:]), "version 7"),
        (with_crc(data[:3] + b"\x04" + data[4:]), "shape"),
        (with_crc(data[:7] + b"\x09" + data[8:]), "periods"),
        (data + b"\0", "length"),
        (data[:40] + bytes([data[40] ^ 1]) + data[41:], "CRC"),
        (with_crc(data[:8] + struct.pack("<I", 77) + data[12:]), "consecutive"),
        (with_crc(data[:12] + struct.pack("<I", 0xF0000000) + data[16:]), "last reset"),
        (with_crc(data[:16] + struct.pack("<I", 0xF0000000) + data[20:]), "schedule time"),
    ]
    for bad, reason in cases:
        b2, ds2 = make()
        with pytest.raises(billing.RecordError, match=reason):
            b2.load(bytes(bad))
        assert b2.counter == 0 and b2.history == [] and ds2[0].cum_value == [0, 0, 0]
    b3, _ = make(depth=2)                                 # record deeper than this meter
    with pytest.raises(billing.RecordError, match="periods"):
        b3.load(bytes(data))


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=64), st.integers(0, 10 ** 6))
def test_random_damage_is_refused_or_exact(noise, where):
    b, _ = filled()
    data = bytearray(b.to_bytes())
    pos = where % len(data)
    damaged = bytes(data[:pos] + noise + data[pos + len(noise):])
    b2, _ = make()
    if damaged == bytes(data):
        b2.load(damaged)
        assert b2.history == b.history
    else:
        with pytest.raises(billing.RecordError):
            b2.load(damaged)


def test_shape_errors():
    ds = [demand.Demand(900, 1, tariffs=4)]
    with pytest.raises(ValueError):
        billing.Billing(3, 2, ds)
    b, _ = make()
    with pytest.raises(ValueError):
        b.end_of_billing(T0, [1, 2], [[0] * 3, [0] * 3])


def test_billing_missed_during_outage_runs_once_after_reboot():
    b, ds = make()
    z = ([0, 0, 0], [[0] * 3, [0] * 3])
    b.poll(civil.to_epoch(2026, 1, 30), *z)
    saved = b.to_bytes()                                  # power-fail save on January 30th
    b2, ds2 = make()                                      # reboot on March 3rd: RAM rebuilt
    b2.load(saved)
    assert b2.schedule.done == civil.to_epoch(2026, 1, 30)
    snap = b2.poll(civil.to_epoch(2026, 3, 3), *z)
    assert snap is not None and snap[0] == 1
    assert b2.poll(civil.to_epoch(2026, 3, 3, 0, 0, 1), *z) is None
