"""Limiter (class 71) as pure logic of meter time: thresholds, minimum over/under durations and
the emergency profile; `update` says when the over or under action is due.

Values and thresholds are integers in the unit of the monitored value (W for active power).
The value must stay above threshold_active for min_over_threshold_duration before the over
action runs (once per excursion); then it must stay at or below the threshold for
min_under_threshold_duration before the under action runs.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

OVER = const(1)
UNDER = const(2)

NO_TIME = None      # emergency profile without an activation time


class Limiter:
    """Settings and the running state of one limiter."""

    def __init__(self, normal, emergency=0, min_over_s=0, min_under_s=0):
        self.normal = normal
        self.emergency = emergency
        self.min_over_s = min_over_s
        self.min_under_s = min_under_s
        self.profile_id = 0
        self.activation_s = NO_TIME     # UTC seconds, None: never
        self.duration_s = 0
        self.groups = ()
        self.exceeded = False           # the over action ran and the under action has not
        self._since = None              # start of the present excursion across the threshold

    def emergency_active(self, now_s):
        """True while the emergency profile applies: its id is in the group list and now is in
        [activation, activation + duration)."""
        a = self.activation_s
        return (a is not None and self.profile_id in self.groups and
                a <= now_s < a + self.duration_s)

    def threshold(self, now_s):
        """threshold_active at now_s."""
        return self.emergency if self.emergency_active(now_s) else self.normal

    def update(self, value, now_s):
        """Feed the monitored value at now_s: OVER or UNDER when that action is due, else None."""
        above = value > self.threshold(now_s)
        if above == self.exceeded:
            self._since = None          # back on the side the last action put us on
            return None
        if self._since is None or now_s < self._since:
            self._since = now_s
        need = self.min_over_s if above else self.min_under_s
        if now_s - self._since < need:
            return None
        self._since = None
        self.exceeded = above
        return OVER if above else UNDER

    def restart(self):
        """Forget the running excursion (a threshold or duration changed, a clock jump)."""
        self._since = None
