"""The protocol between the Meter and the services plugged into it (demand and billing, profiles,
logs, alarms and push, power quality, disconnector, limiter, monitors ...).

A service module named in `runtime.meter.SERVICES` has `make(meter)` returning an object with
the methods of `Service` (subclass it and override what you need). The Meter calls them:

* `bind(sources)` once, when the COSEM service is built: register the service's getters,
  setters and actions in the `cosem.sources.DictSources` (names `<service>.<attribute>`);
* `power_on(now_s)` at boot, after the energy and tariff registers are restored: load the
  service's state from its NV records and rings (runtime.nvlayout), handle the outage;
* `tick(now_s)` whenever meter time (UTC seconds since 2000) reaches the service's `next_due`:
  after a measured window (the energy registers hold everything measured up to now_s) or an
  analytic `advance` step, which is cut at the earliest `next_due` of all services;
* `next_due(now_s)`: the UTC second at which the service must next run (`now_s` itself: after
  every window; None: only on events);
* `save()` with the Meter's periodic and power-fail saves (write the NV records that changed);
* `power_off(now_s, hard)` at the power failure (`hard`: no time to save anything);
* `clock_set(old_s, new_s)` after the clock was set (COSEM, control channel).

Services talk to each other through the Meter: `meter.events` (core.events.Events, the one event
path to logs, alarms and push), `meter.raise_event(code)`, and `meter.listen(name, fn)` /
`meter.notify(name, *args)` for meter-wide happenings ("billing": the end of a billing period ran;
"certification": a metrological parameter changed; "phase_voltage": a phase lost or regained
its voltage; "watchdog": the MCU was restarted by its watchdog).
"""


class Service:
    """No-op defaults of every Meter -> service call."""

    def bind(self, sources):
        """Register the COSEM sources of the service."""

    def power_on(self, now_s):
        """Boot: restore state from NV."""

    def tick(self, now_s):
        """Meter time reached the due time."""

    def next_due(self, now_s):
        """UTC second of the next tick wanted, or None."""
        return None

    def save(self):
        """Periodic or power-fail save."""

    def power_off(self, now_s, hard):
        """Power failure."""

    def clock_set(self, old_s, new_s):
        """The clock was set from old_s to new_s."""
