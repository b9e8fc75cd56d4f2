"""Host board: everything the firmware touches, simulated on the PC (see docs/architecture.md).

Options (`opts` keys; unknown keys are rejected, OPTS holds the defaults):
  state_dir     directory of the NV file nv.bin (created if missing); None keeps NV in RAM only
  nv_size       NV size in bytes
  fs            frames per second per channel
  bits          ADC resolution, 16 or 24
  block_frames  frames per sample block
  u_peak_mv, i_peak_ma   physical peak that the positive full-scale code stands for
  realtime      True: blocks are paced by the wall clock; False: fast-forward
  speed         pacing factor in real-time mode (2.0 = twice as fast as the wall clock)
  ring          blocks the simulated DMA ring holds before a slow reader loses data
  start         meter time at start-up, seconds since 2000-01-01 UTC (None: the wall clock now)
  seed          seed of the front-end noise generators
  rtc_backup_s  how long the RTC runs on its backup supply during an outage (then it stops and
                its time is invalid until set)
"""
import time

import sim_afe
import sim_clock
import sim_leds
import sim_nv
import sim_power
import sim_relay
import sim_wdt

OPTS = {
    "state_dir": "state",
    "nv_size": sim_nv.SIZE,
    "fs": 4000,
    "bits": 24,
    "block_frames": 400,
    "u_peak_mv": 500000,
    "i_peak_ma": 200000,
    "realtime": True,
    "speed": 1.0,
    "ring": 4,
    "start": None,
    "seed": 1,
    "rtc_backup_s": 7 * 86400,
}


class Inputs:
    """Digital inputs of the host board, set through the control channel: tamper detectors
    (`meter_cover`, `terminal_cover`: True = open; `magnet`: True = strong field; `alarm`: the
    alarm input) and the buttons (`scroll`, `external`), whose presses go to the handler set
    with `on_press(fn)` (fn(name) -> reply dict)."""

    NAMES = ("meter_cover", "terminal_cover", "magnet", "alarm")
    BUTTONS = ("scroll", "external")

    def __init__(self):
        self._levels = {n: False for n in self.NAMES}
        self._press = None

    def value(self, name):
        """Level of input `name`."""
        return self._levels[name]

    def set(self, name, active):
        """Drive input `name`; ValueError for an unknown one."""
        if name not in self._levels:
            raise ValueError("input must be one of %s" % ", ".join(self.NAMES))
        self._levels[name] = bool(active)

    def on_press(self, fn):
        """Route button presses to fn(name) (None: presses do nothing)."""
        self._press = fn

    def press(self, name):
        """Press button `name` once; the handler's reply (empty without a handler)."""
        if name not in self.BUTTONS:
            raise ValueError("button must be one of %s" % ", ".join(self.BUTTONS))
        return self._press(name) if self._press is not None else {}


class Board:
    """The simulated meter hardware of `model` ("me382" or "mt382")."""

    def __init__(self, model, opts=None):
        o = dict(OPTS)
        if opts:
            for key in opts:
                if key not in OPTS:
                    raise ValueError("unknown host board option %r (known: %s)"
                                     % (key, ", ".join(sorted(OPTS))))
            o.update(opts)
        self.model = model
        self.clock = sim_clock.Clock(o["fs"], o["start"])
        self.afe = sim_afe.SimAfe(model, self.clock, fs=o["fs"], bits=o["bits"],
                                  block_frames=o["block_frames"], u_peak_mv=o["u_peak_mv"],
                                  i_peak_ma=o["i_peak_ma"], realtime=o["realtime"],
                                  speed=o["speed"], ring=o["ring"], seed=o["seed"])
        if o["state_dir"] is None:
            self.nv = sim_nv.NvMem(o["nv_size"])
        else:
            self.nv = sim_nv.NvFile(o["state_dir"], o["nv_size"])
        self.led_active = sim_leds.Led("active")
        self.led_reactive = sim_leds.Led("reactive")
        self.power = sim_power.Power()
        # The disconnector relay gates the simulated load current.
        self.relay = sim_relay.SimRelay(on_contact=self.afe.supply)
        self.inputs = Inputs()
        self._cut_ms = 0
        self._cut_s = 0
        self._backup_s = o["rtc_backup_s"]
        self.wdt = None     # the watchdog the firmware started (sim_wdt.SimWdt), None: not started
        self._reset_cause = sim_wdt.POWER_ON

    def watchdog(self, timeout_ms):
        """Start the MCU watchdog: a sim_wdt.SimWdt to be fed within `timeout_ms`; the control
        channel's task (sim_wdt.supervise) resets the meter when it fires."""
        self.wdt = sim_wdt.SimWdt(timeout_ms)
        return self.wdt

    def reset_cause(self):
        """Why the firmware last booted: sim_wdt.WATCHDOG after a watchdog reset, else
        sim_wdt.POWER_ON."""
        return self._reset_cause

    def cut_power(self):
        """The supply goes down: the power-fail signal rises, sampling stops, the watchdog stops
        with the MCU."""
        self.wdt = None
        self._cut_ms = time.time_ns() // 1000000
        self._cut_s = self.clock.now()
        self.power.cut()

    def restore_power(self, off_s=0, cause=sim_wdt.POWER_ON):
        """The supply is back. The RTC ran on its backup supply meanwhile: for the wall time the
        outage took in real-time mode (scaled by the speed), plus `off_s` meter seconds. An outage
        longer than the backup lasts stops the RTC there and leaves its time invalid. Sampling
        resumes from now; `cause` is the reset_cause() of the boot that follows."""
        self._reset_cause = cause
        afe = self.afe
        if afe.realtime:
            off_ms = time.time_ns() // 1000000 - self._cut_ms
            self.clock.advance(int(off_ms * 1000 * afe.speed))
        if off_s:
            self.clock.advance(off_s * 1000000)
        if self.clock.now() - self._cut_s > self._backup_s:
            self.clock.lose(self._cut_s + self._backup_s)
        afe.pace(afe.realtime, afe.speed)
        self.power.restore()

    def close(self):
        """Release the NV file."""
        self.nv.close()
