"""Activity calendar (COSEM class 20): seasons, week profiles, day profiles; active and passive.

Data model, each close to the class 20 attribute it maps to:
- season = (name, start, week_name); `start` a 7-field date-time pattern (see `datepattern`) with a
  given month (1..12) and day (1..31, 0xFE last, 0xFD second last; a day of week may narrow it), a
  given or wildcard year (0xFFFF: every year); wildcard time fields take their first value (00).
- week = (name, day_ids) with 7 day ids, Monday .. Sunday.
- day = (day_id, actions); action = (start_time, script_logical_name, script_selector), start_time
  (hour, minute, second) or with hundredths as a fourth field (0 or 0xFF), all given; actions
  strictly ascending; script_selector is the tariff 1..8.

Semantics, all on the local wall clock: a season is in force from an occurrence of its start up to
the next start of any season. The tariff at a local instant is the selector of the most recent
action at or before it, where the actions in force at each instant are those of the day profile of
that instant (special day if one matches the date, else the week profile of the season). Hence
before the first action of a day the previous day's last action still holds, and a season starting
mid-day takes over from its start. Every day profile needs at least one action so that the tariff
is always defined. Before the first season start ever, no tariff is defined (0).

Every check runs before anything is stored: invalid input raises `CalendarError` and changes
nothing. `type_unmatched` tells a COSEM SET to answer type-unmatched (shape) or other-reason.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import civil
from core import datepattern
from core import dst

MAX_TARIFF = const(8)
_DAY = const(86400)
_ANY = const(0xFF)
_ANY_YEAR = const(0xFFFF)


class CalendarError(ValueError):
    """Invalid calendar or special day data; `type_unmatched` for a wrong shape or type."""

    def __init__(self, msg, type_unmatched=False):
        super().__init__(msg)
        self.type_unmatched = type_unmatched


def _shape(obj, n, what):
    # Tuple/list of exactly n fields, else a type-unmatched error.
    if not isinstance(obj, (tuple, list)) or len(obj) != n:
        raise CalendarError(what + " has the wrong shape", True)
    return obj


def _ints(values, what):
    for v in values:
        if not isinstance(v, int):
            raise CalendarError(what + " fields must be integers", True)


def _name(v, what):
    if not isinstance(v, (bytes, str)):
        raise CalendarError(what + " name must be an octet string", True)
    return v


def _year_of(local_s):
    return civil.civil_from_days(local_s // _DAY)[0]


def _check_season_start(p):
    _shape(p, 7, "season start")
    _ints(p, "season start")
    try:
        datepattern.check_datetime(p)
    except ValueError as e:
        raise CalendarError("season start: " + str(e))
    if not 1 <= p[1] <= 12:
        raise CalendarError("season start month must be given")
    if p[2] == _ANY:
        raise CalendarError("season start day must be given")
    if p[0] != _ANY_YEAR and not civil.MIN_YEAR <= p[0] <= civil.MAX_YEAR:
        raise CalendarError("season start year outside 2000..2099")


def _check_action(a):
    _shape(a, 3, "day action")
    t, script, sel = a
    if not isinstance(t, (tuple, list)) or len(t) not in (3, 4):
        raise CalendarError("action start time has the wrong shape", True)
    _ints(t, "action start time")
    if not isinstance(sel, int):
        raise CalendarError("script selector must be an integer", True)
    if not isinstance(script, bytes) or len(script) != 6:
        raise CalendarError("script logical name must be 6 octets", True)
    h, m, s = t[0], t[1], t[2]
    if not (0 <= h <= 23 and 0 <= m <= 59 and 0 <= s <= 59):
        raise CalendarError("action start time must be a given time of day")
    if len(t) == 4 and t[3] != 0 and t[3] != _ANY:
        raise CalendarError("action start time hundredths must be 0")
    if not 1 <= sel <= MAX_TARIFF:
        raise CalendarError("script selector (tariff) outside 1..8")
    return h * 3600 + m * 60 + s


class Calendar:
    """One calendar (the active or the passive set of attributes 2..5 / 6..9 of class 20)."""

    def __init__(self, name, seasons, weeks, days):
        _name(name, "calendar")
        day_tab = {}
        for d in days:
            day_id, actions = _shape(d, 2, "day profile")
            if not isinstance(day_id, int) or not isinstance(actions, (tuple, list)):
                raise CalendarError("day profile has the wrong types", True)
            if not 0 <= day_id <= 255:
                raise CalendarError("day id outside 0..255")
            if day_id in day_tab:
                raise CalendarError("duplicate day id")
            if not actions:
                raise CalendarError("day profile without actions")
            starts = []
            for a in actions:
                sod = _check_action(a)
                if starts and sod <= starts[-1]:
                    raise CalendarError("day actions not ascending or duplicated")
                starts.append(sod)
            day_tab[day_id] = (tuple(starts), tuple(a[2] for a in actions),
                               tuple((tuple(a[0]), a[1], a[2]) for a in actions))
        week_tab = {}
        for w in weeks:
            wname, ids = _shape(w, 2, "week profile")
            _name(wname, "week")
            _shape(ids, 7, "week day ids")
            _ints(ids, "week day ids")
            if wname in week_tab:
                raise CalendarError("duplicate week name")
            for i in ids:
                if i not in day_tab:
                    raise CalendarError("week refers to an unknown day id")
            week_tab[wname] = tuple(ids)
        names = []
        for s in seasons:
            sname, start, wname = _shape(s, 3, "season")
            _name(sname, "season")
            _check_season_start(start)
            if sname in names:
                raise CalendarError("duplicate season name")
            if wname not in week_tab:
                raise CalendarError("season refers to an unknown week")
            names.append(sname)
        self.name = name
        self.seasons = tuple((s[0], tuple(s[1]), s[2]) for s in seasons)
        self.weeks = tuple((w[0], tuple(w[1])) for w in weeks)
        self.days = tuple((d[0], day_tab[d[0]][2]) for d in days)
        self._week = week_tab
        self._day = day_tab
        self._season_weeks = tuple(week_tab[s[2]] for s in self.seasons)
        self._years = {}
        self._span = None
        self._check_seasons()

    def _check_seasons(self):
        # A start that never occurs is malformed; two seasons starting at the same instant overlap.
        # Weekdays and leap years repeat every 28 years within 2000..2099, so 2000..2027 plus the
        # explicitly given years cover every case.
        years = set(range(civil.MIN_YEAR, civil.MIN_YEAR + 28))
        for s in self.seasons:
            if s[1][0] != _ANY_YEAR:
                years.add(s[1][0])
        seen = [False] * len(self.seasons)
        for y in years:
            occ = self._starts(y)
            for k in range(len(occ)):
                seen[occ[k][1]] = True
                if k and occ[k][0] == occ[k - 1][0]:
                    raise CalendarError("seasons start at the same instant")
        if not all(seen):
            raise CalendarError("season start never occurs")
        self._years = {}

    def _starts(self, year):
        # Sorted (local instant, season index) of the season starts in `year`, cached.
        occ = self._years.get(year)
        if occ is None:
            occ = []
            t0 = civil.to_epoch(year, 1, 1)
            for i in range(len(self.seasons)):
                p = self.seasons[i][1]
                if p[0] != _ANY_YEAR and p[0] != year:
                    continue
                t = datepattern.first_datetime((year,) + p[1:], t0)
                if t is not None:
                    occ.append((t, i))
            occ.sort()
            if len(self._years) > 4:
                self._years = {}
            self._years[year] = occ
        return occ

    def season_span(self, local_s):
        """(season index or -1, start lo, next start hi) of the season in force at a local
        instant; lo / hi are None where there is no start before / after it."""
        sp = self._span
        if sp is not None and (sp[1] is None or sp[1] <= local_s) and \
                (sp[2] is None or local_s < sp[2]):
            return sp
        y0 = _year_of(local_s)
        idx = -1
        lo = hi = None
        y = y0
        while y >= civil.MIN_YEAR and lo is None:
            for t, i in self._starts(y):
                if t <= local_s:
                    lo, idx = t, i
            y -= 1
        y = y0
        while y <= civil.MAX_YEAR and hi is None:
            for t, i in self._starts(y):
                if t > local_s:
                    hi = t
                    break
            y += 1
        sp = (idx, lo, hi)
        self._span = sp
        return sp

    def profile(self, season, days, special_id=None):
        """(start seconds of day, selectors, actions) of the day profile in force on local day
        `days` (season index from `season_span`, special day id or None)."""
        if special_id is not None:
            prof = self._day.get(special_id)
            if prof is not None:
                return prof
        return self._day[self._season_weeks[season][civil.weekday(days) - 1]]

    def has_day(self, day_id):
        """True if a day profile with this id exists."""
        return day_id in self._day


def _find(starts, lo_sod, sod):
    # Index of the last start within lo_sod..sod, -1 if none.
    k = -1
    for i in range(len(starts)):
        s = starts[i]
        if s > sod:
            break
        if s >= lo_sod:
            k = i
    return k


def tariff_at(cal, local_s, special):
    """Tariff 1..8 of calendar `cal` at a local instant, 0 before the first season start.

    `special(days)` gives the special day id of a local day number, or None.
    """
    t = local_s
    while t >= 0:
        idx, lo, _ = cal.season_span(t)
        if idx < 0:
            return 0
        days = t // _DAY
        day0 = days * _DAY
        starts, sels, _ = cal.profile(idx, days, special(days))
        since = lo if lo > day0 else day0
        k = _find(starts, since - day0, t - day0)
        if k >= 0:
            return sels[k]
        t = since - 1
    return 0


def next_change(cal, local_s, special):
    """First local instant after `local_s` at which `tariff_at` may change (an action start, a
    midnight or a season start); None if none before 2100."""
    idx, _, hi = cal.season_span(local_s)
    days = local_s // _DAY
    c = (days + 1) * _DAY
    if idx >= 0:
        sod = local_s - days * _DAY
        for s in cal.profile(idx, days, special(days))[0]:
            if s > sod:
                c = days * _DAY + s
                break
    if hi is not None and hi < c:
        c = hi
    if c // _DAY >= civil.DAYS:
        return None
    return c


class ActivityCalendar:
    """Active and passive calendars and activate_passive_calendar_time (class 20).

    The activation time is a local date-time; it is "not specified" (never) unless year, month and
    day are all given. Until the activation is carried out, `calendar_at` already answers with the
    passive calendar from that instant on, so the tariff stays a pure function of meter time.
    """

    def __init__(self, active, passive=None):
        self.active = active
        self.passive = passive if passive is not None else active
        self.activation_time = (_ANY_YEAR, _ANY, _ANY, _ANY, _ANY, _ANY, _ANY)
        self._cache = None             # (activation_time, rule, UTC instant) last computed

    def set_passive(self, cal):
        """Attributes 6..9: replace the passive calendar (already validated as a `Calendar`)."""
        self.passive = cal

    def set_activation_time(self, pattern):
        """Attribute 10: local date-time at which the passive calendar becomes active."""
        _shape(pattern, 7, "activation time")
        _ints(pattern, "activation time")
        try:
            datepattern.check_datetime(pattern)
        except ValueError as e:
            raise CalendarError("activation time: " + str(e))
        self.activation_time = tuple(pattern)

    def activation_utc(self, rule):
        """UTC instant of the pending activation, None if not specified."""
        p = self.activation_time
        c = self._cache
        if c is not None and c[0] is p and c[1] is rule:
            return c[2]
        t = None
        if p[0] != _ANY_YEAR and p[1] <= 12 and p[2] <= 31 and \
                civil.MIN_YEAR <= p[0] <= civil.MAX_YEAR:
            t = datepattern.first_datetime(p, civil.to_epoch(p[0], 1, 1))
            if t is not None:
                t = dst.utc_from_local(t, rule)
        self._cache = (p, rule, t)
        return t

    def calendar_at(self, utc_s, rule):
        """The calendar in force at a UTC instant (the passive one once activation is due)."""
        a = self.activation_utc(rule)
        if a is not None and utc_s >= a:
            return self.passive
        return self.active

    def activate_passive(self):
        """Method 1: the passive calendar becomes the active one; the activation time is cleared."""
        self.active = self.passive
        self.activation_time = (_ANY_YEAR, _ANY, _ANY, _ANY, _ANY, _ANY, _ANY)

    def activate_if_due(self, utc_s, rule):
        """Carry out a due activation; True if it happened (event 9, TOU activated)."""
        a = self.activation_utc(rule)
        if a is not None and utc_s >= a:
            self.activate_passive()
            return True
        return False
