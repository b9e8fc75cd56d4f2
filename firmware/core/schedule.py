"""Single action schedule (COSEM class 22): execution times and missed executions.

`execution_time` (attribute 4) is a list of (time, date) pairs: time (hour, minute, second) and
date (year, month, day, day_of_week) patterns of `datepattern`, read on the local wall clock of a
`dst.Rule`. `type` (attribute 3), per the Blue Book:
  1  one entry; wildcards in the date allowed
  2  n entries, all with the same time; no wildcards in the date
  3  n entries, all with the same time; wildcards in the date allowed
  4  n entries, times may differ; no wildcards in the date
  5  n entries, times may differ; wildcards in the date allowed
"No wildcards in the date" means year, month and day given (the special days 0xFD / 0xFE and
the DST months count as wildcards); the day of week may be 0xFF. Time fields may be 0xFF.

Local time and DST: each local match executes once. In the repeated autumn hour it executes at
the first occurrence only; a match inside the spring gap executes when the clock jumps.

Missed executions: `Schedule.due(now)` compares with the instant up to which executions were
already handled (`done`). If one or more execution times lie in (done, now] they are executed
once, whatever their number: after a power failure (call `due` at power-up with the RTC time) or a
clock jump forward. A clock set back does not repeat executions: `done` keeps the later instant.
"""
from core import datepattern, dst

_ANY = datepattern.ANY


def _date_has_wildcard(date):
    year, month, day, _ = date
    return year == datepattern.ANY_YEAR or month > 12 or day > 31


def check(kind, entries):
    """Raise ValueError unless `entries` suit schedule `kind` 1..5."""
    if kind < 1 or kind > 5:
        raise ValueError("schedule type outside 1..5")
    if not entries or kind == 1 and len(entries) != 1:
        raise ValueError("type 1 needs exactly one entry, others at least one")
    for time, date in entries:
        datepattern.check_time(time)
        datepattern.check_date(date)
        if kind in (2, 4) and _date_has_wildcard(date):
            raise ValueError("wildcard in the date of a type 2 or 4 schedule")
        if kind in (2, 3) and tuple(time) != tuple(entries[0][0]):
            raise ValueError("type 2 and 3 need the same time in every entry")


class Schedule:
    """Execution times of a single action schedule on the local clock of `rule`."""

    def __init__(self, kind, entries, rule, done=None):
        check(kind, entries)
        self.kind = kind
        self.entries = [tuple(time) + tuple(date) for time, date in entries]
        self.rule = rule
        self.resume(done)

    def resume(self, done):
        """Continue from `done`, the UTC second up to which executions were handled (restored
        from NV memory at power-up; None: the first `due` call only sets it)."""
        self.done = done
        self._next = None if done is None else self.next_execution(done)

    def _next_local(self, local):
        # First local wall-clock second after `local` matching any entry.
        best = None
        months = self.rule.months if self.rule.enabled else None
        for h, mi, s, y, mo, d, w in self.entries:
            c = datepattern.next_datetime((y, mo, d, w, h, mi, s), local, months)
            if c is not None and (best is None or c < best):
                best = c
        return best

    def next_execution(self, utc_s):
        """First UTC second after `utc_s` at which the schedule executes; None if none by 2100."""
        rule = self.rule
        local = dst.local_from_utc(utc_s, rule)[0]
        while True:
            local = self._next_local(local)
            if local is None:
                return None
            u = dst.utc_from_local(local, rule, 0)
            if dst.local_from_utc(u, rule)[0] != local:
                # In the spring gap: both readings miss it; execute at the jump between them.
                u = dst.next_transition(min(u, dst.utc_from_local(local, rule, 1)), rule)[0]
            if u > utc_s:
                return u
            # Already passed: the first occurrence of a repeated local time.

    def pending(self):
        """The next execution `due` waits for (UTC second; None before the first `due` call
        or when none is left before 2100)."""
        return self._next

    def due(self, now):
        """True (once) if an execution time lies in (done, now]; marks everything up to `now`
        as handled. The first call only sets the starting point. The next execution is cached,
        so polling every second costs two comparisons (entries and rule are not to be changed:
        build a new Schedule instead)."""
        done = self.done
        if done is not None and now <= done:
            return False
        self.done = now
        if done is None:
            self._next = self.next_execution(now)
            return False
        nxt = self._next
        if nxt is None or now < nxt:
            return False            # None: no execution left before 2100
        self._next = self.next_execution(now)
        return True


def monthly(rule, day=1, time=(0, 0, 0)):
    """Type 1 schedule executing on `day` of every month at `time` local (end of billing)."""
    return Schedule(1, [(time, (datepattern.ANY_YEAR, _ANY, day, _ANY))], rule)

