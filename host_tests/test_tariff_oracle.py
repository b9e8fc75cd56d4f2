"""Hypothesis: active_tariff and next_switch against a brute-force oracle that runs the day
profiles' actions minute by minute on the local wall clock (as a meter executing the scripts
would), over random calendars, special days, DST rules and awkward dates (DST changes, new year,
season starts). The oracle and the random calendars also serve test_tariff_mp."""
import bisect
import random

from hypothesis import given, settings, strategies as st

from core import calendar, civil, datepattern, dst, special_days, tariff

SCRIPT = b"\x00\x00\x0a\x00\x64\xff"
MINUTE = 60

RULES_SRC = """
rules = [
    dst.eu_rule(-60),
    dst.eu_rule(0),
    dst.Rule(300, (0xFFFF, 3, 8, 7, 2, 0, 0), (0xFFFF, 11, 1, 7, 2, 0, 0)),
    dst.Rule(-600, (0xFFFF, 10, 1, 7, 2, 0, 0), (0xFFFF, 4, 1, 7, 3, 0, 0)),
    dst.Rule(-60, (0xFFFF, 3, 0xFE, 7, 2, 0, 0), (0xFFFF, 10, 0xFE, 7, 3, 0, 0), 60, False),
]
"""


def rules():
    scope = {"dst": dst}
    exec(RULES_SRC, scope)
    return scope["rules"]


def random_config(rnd):
    """(seasons, weeks, days, special entries) of a random calendar; may be invalid (overlap)."""
    ids = rnd.sample(range(256), rnd.randint(1, 4))
    days = []
    for i in ids:
        mins = sorted(rnd.sample(range(1440), rnd.randint(1, 5)))
        days.append((i, [((m // 60, m % 60, 0), SCRIPT, rnd.randint(1, 8)) for m in mins]))
    weeks = [(b"W%d" % k, tuple(rnd.choice(ids) for _ in range(7)))
             for k in range(rnd.randint(1, 3))]
    seasons = []
    for k in range(rnd.randint(1, 4)):
        year = 0xFFFF if k == 0 or rnd.random() < 0.7 else rnd.randint(2001, 2098)
        kind = rnd.random()
        if kind < 0.5:
            day, dow = rnd.randint(1, 28), 0xFF
        elif kind < 0.75:
            day, dow = rnd.randint(1, 22), rnd.randint(1, 7)
        else:
            day, dow = 0xFE, rnd.choice((0xFF, rnd.randint(1, 7)))
        start = (year, rnd.randint(1, 12), day, dow, rnd.randint(0, 23), rnd.randint(0, 59), 0)
        seasons.append((b"S%d" % k, start, rnd.choice(weeks)[0]))
    special = []
    for k in rnd.sample(range(50), rnd.randint(0, 3)):
        date = (rnd.choice((0xFFFF, rnd.randint(2001, 2098))), rnd.choice((0xFF, rnd.randint(1, 12))),
                rnd.choice((0xFF, 0xFE, rnd.randint(1, 28))), rnd.choice((0xFF, rnd.randint(1, 7))))
        special.append((k, date, rnd.choice(ids)))
    return seasons, weeks, days, special


class Oracle:
    """Tariff per local minute of a calendar, by executing every action at its minute."""

    def __init__(self, seasons, weeks, days, special, rule):
        self.seasons = seasons
        self.week = dict(weeks)
        self.days = dict((i, dict((a[0][0] * 60 + a[0][1], a[2]) for a in acts))
                         for i, acts in days)
        self.special = sorted(special)
        self.rule = rule

    def _starts(self, y0, y1):
        out = []
        for idx, (_, p, _) in enumerate(self.seasons):
            for y in range(max(y0, 2000), min(y1, 2099) + 1):
                if p[0] != 0xFFFF and p[0] != y:
                    continue
                for d in range(1, civil.days_in_month(y, p[1]) + 1):
                    if datepattern.date_matches((y,) + p[1:4], y, p[1], d):
                        out.append((civil.to_epoch(y, p[1], d, p[4], p[5], p[6]), idx))
                        break
        out.sort()
        return out

    def _day_id(self, days, idx):
        y, m, d = civil.civil_from_days(days)
        for _, date, day_id in self.special:
            if datepattern.date_matches(date, y, m, d, self.rule.months):
                if day_id in self.days:
                    return day_id
                break
        return self.week[self.seasons[idx][2]][civil.weekday(days) - 1]

    def run(self, local0, local1):
        """{local minute instant: tariff or None} for local0 - 3 days .. local1 (whole minutes)."""
        start = local0 - 3 * 86400
        y0 = civil.civil(max(start, 0))[0]
        starts = self._starts(y0 - 2, civil.civil(local1)[0] + 1)
        keys = [s[0] for s in starts]
        state = None
        out = {}
        cache = {}
        for t in range(start, local1 + 1, MINUTE):
            k = bisect.bisect_right(keys, t) - 1
            if k >= 0:
                days = t // 86400
                key = (days, starts[k][1])
                if key not in cache:
                    cache[key] = self._day_id(days, starts[k][1])
                sel = self.days[cache[key]].get(t % 86400 // 60)
                if sel is not None:
                    state = sel
            elif t >= 0:
                state = 0
            out[t] = state
        return out


def window_starts(rnd, rule, seasons):
    """Interesting UTC instants (whole minutes): DST changes, new year, season starts, random."""
    year = rnd.randint(2001, 2097)
    out = [civil.to_epoch(year, rnd.randint(1, 12), rnd.randint(1, 28)),
           civil.to_epoch(year, 12, 31, 12)]
    b, e = dst.transitions(rule, year)
    out += [x - 86400 for x in (b, e) if x is not None]
    p = rnd.choice(seasons)[1]
    t = datepattern.first_datetime((year,) + p[1:], civil.to_epoch(year, 1, 1))
    if t is not None and p[0] == 0xFFFF:
        out.append(t - 43200)
    return [x - x % MINUTE for x in out]


RULE_LIST = rules()
SPAN = 2 * 86400


def build(rnd, rule):
    while True:
        seasons, weeks, days, special = random_config(rnd)
        try:
            cal = calendar.Calendar(b"C", seasons, weeks, days)
        except calendar.CalendarError:
            continue
        tou = tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(special),
                               rule)
        return tou, Oracle(seasons, weeks, days, special, rule)


def expected(oracle, rule, u0, u1):
    local0 = dst.local_from_utc(u0, rule)[0]
    local1 = dst.local_from_utc(u1, rule)[0]
    states = oracle.run(min(local0, local1) - 7200, max(local0, local1) + 7200)
    out = []
    for u in range(u0, u1 + 1, MINUTE):
        s = states[dst.local_from_utc(u, rule)[0]]
        out.append(1 if s == 0 else s)
    return out


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2 ** 32), st.integers(0, len(RULE_LIST) - 1))
def test_tariff_matches_oracle(seed, r):
    rnd = random.Random(seed)
    rule = RULE_LIST[r]
    tou, oracle = build(rnd, rule)
    u0 = rnd.choice(window_starts(rnd, rule, tou.activity.active.seasons))
    u1 = u0 + SPAN
    want = expected(oracle, rule, u0, u1)
    got = [tou.active_tariff(u) for u in range(u0, u1 + 1, MINUTE)]
    assert got == want
    # next_switch from every switch instant and from instants inside the minutes.
    for i in range(len(want)):
        if i and want[i] == want[i - 1] and rnd.random() > 0.02:
            continue
        u = u0 + i * MINUTE + (rnd.randrange(MINUTE) if rnd.random() < 0.5 else 0)
        j = i + 1
        while j < len(want) and want[j] == want[i]:
            j += 1
        nxt = u0 + j * MINUTE if j < len(want) else None
        assert tou.next_switch(u, u1) == nxt
