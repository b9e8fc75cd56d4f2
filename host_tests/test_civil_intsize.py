"""Where the meter-time code leaves ARM small-int range (values >= 2**30 are heap bigints there).

A `Tracked` int logs every arithmetic result derived from it, so calling a function with tracked
arguments lists all its intermediates that depend on the input (results computed from constants
alone are fixed and visible in the code). The documented contract (core/civil.py) is checked:
calendar work stays below 2**30; only epoch seconds themselves are larger, and always below 2**32.
"""
import random

from core import civil, datepattern, dst

SMALL = 2 ** 30
LAST = civil.DAYS * 86400 - 1


class Tracked(int):
    log = []


def _wrap(value):
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    Tracked.log.append(int(value))
    return Tracked(value)


def _unary_or_binary(name):
    base = getattr(int, name)

    def op(self, *args):
        return _wrap(base(self, *args))
    return op


def _divmod(name):
    base = getattr(int, name)

    def op(self, other):
        result = base(self, other)
        return result if result is NotImplemented else (_wrap(result[0]), _wrap(result[1]))
    return op


for _op in ("add", "radd", "sub", "rsub", "mul", "rmul", "floordiv", "rfloordiv", "mod", "rmod",
            "neg", "pos", "abs"):
    setattr(Tracked, "__%s__" % _op, _unary_or_binary("__%s__" % _op))
Tracked.__divmod__ = _divmod("__divmod__")
Tracked.__rdivmod__ = _divmod("__rdivmod__")


def tracked(value):
    if isinstance(value, tuple):
        return tuple(tracked(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Tracked(value)
    return value


def run(fn, *args):
    """(result, intermediates) of fn called with every int argument tracked."""
    Tracked.log = []
    result = fn(*[tracked(a) for a in args])
    return result, Tracked.log


def instants():
    """Year and month boundaries, the 2**30 / 2**31 crossings and random seconds."""
    out = [0, LAST, SMALL - 1, SMALL, 2 ** 31 - 1, 2 ** 31]
    for y in range(2000, 2100):
        for m in range(1, 13):
            s = civil.to_epoch(y, m, 1)
            out += [s, s - 1] if s else [s]
    rnd = random.Random(7)
    out += [rnd.randrange(0, LAST + 1) for _ in range(500)]
    return out


def test_tracking_sees_intermediates():
    _, log = run(lambda a: (a * 3 + 1) // 2, 5)
    assert log == [15, 16, 8]


def test_civil_from_epoch_stays_small():
    for s in instants():
        result, log = run(civil.civil, s)
        assert result[:6] == tuple(civil.civil(s)[:6])
        assert max(abs(v) for v in log) < SMALL, s
        _, log = run(civil.split, s)
        assert max(abs(v) for v in log) < SMALL, s


def test_to_epoch_only_builds_the_result():
    for s in instants():
        fields = civil.civil(s)[:6]
        result, log = run(civil.to_epoch, *fields)
        assert result == s
        big = {v for v in log if abs(v) >= SMALL}
        # days * 86400 and the sum are the only epoch-sized values.
        assert big <= {s, s - s % 86400}, (s, big)


def test_day_number_functions_stay_small():
    for n in range(0, civil.DAYS, 7):
        ymd = civil.civil_from_days(n)
        for fn, args in ((civil.civil_from_days, (n,)), (civil.weekday, (n,)),
                         (civil.days_from_civil, ymd), (civil.day_of_year, ymd)):
            _, log = run(fn, *args)
            assert max(abs(v) for v in log) < SMALL


def test_date_patterns_stay_small():
    patterns = [(0xFFFF, 3, 0xFE, 7), (0xFFFF, 2, 29, 7), (2099, 12, 0xFD, 0xFF),
                (0xFFFF, 0xFE, 8, 7), (0xFFFF, 0xFF, 0xFF, 3)]
    for p in patterns:
        for n in range(0, civil.DAYS, 997):
            _, log = run(datepattern.next_date, p, n, (3, 10))
            assert max(abs(v) for v in log) < SMALL


def test_dst_values_fit_32_bits_and_stay_small_before_2031():
    rule = dst.eu_rule(-60)
    before_2031 = civil.to_epoch(2031, 1, 1)
    every_first_sunday = (0xFFFF, 0xFF, 1, 7, 2, 0, 0)
    for s in instants()[::6]:
        rule._span = None
        calls = [(dst.local_from_utc, (s, rule)), (dst.next_transition, (s, rule))]
        if s < LAST:
            calls.append((datepattern.next_datetime, (every_first_sunday, s)))
        if 3600 <= s < LAST - 7200:
            calls.append((dst.utc_from_local, (s, rule)))
        for fn, args in calls:
            _, log = run(fn, *args)
            assert max(abs(v) for v in log) < 2 ** 32
            if s < before_2031:
                assert max(abs(v) for v in log) < SMALL, (fn, s)
