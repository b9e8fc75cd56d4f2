"""Push setups (class 40) and the Data-Notifications they send (docs/alarms_push.md).

Three push setups, each also pushed by its method 1:
* 0-0:25.9.0 "on connectivity": at every power up (the meter's connection is up when it runs);
* 0-1:25.9.0 "interval 1": at the execution times of the push action schedule 0-1:15.0.4, which
  runs script 1 of the push script table 0-0:10.0.108 (default: every day at 00:00 local; an
  execution missed during an outage runs once at power up, as core.schedule specifies);
* 0-4:25.9.0 "on alarm": when an alarm bit is newly set (core.events subscribers).

A push reads the attributes of its push_object_list through the COSEM model exactly as a GET
would (an object or attribute that cannot be read is sent as null-data), builds a Data-Notification
{long-invoke-id-and-priority, clock date-time, structure of the values}, protects it as the
management client's security policy asks, wraps it in a COSEM wrapper frame (source wPort 1, the
server; destination wPort 102, the pre-established client) and sends it over TCP to "host:port" of
send_destination_and_method. Sending is an asyncio task: a failed attempt (refused, timed out) is
retried number_of_retries times after repetition_delay seconds with the same frame, then counted
as failed and logged; the meter never waits for it.

Protection: with security policy 1..3 (sec0.security_policy) the notification goes as
general-glo-ciphering (DB, the server's system title, the policy's security control byte, the
invocation counter, ciphertext and/or tag) under the management client's global keys (EK, AK,
those of the last key transfer). Its invocation counter is the next one of the management
security suite (the suite the server uses for that key set, kept ahead in NV by the COSEM
service), so pushes and answers share one counter that never repeats under a key. Policy 0 sends
it plain, and so does a meter without a COSEM server (no security context; said once on the
console). A notification that cannot be protected is not sent (counted as failed), never sent
plain instead.

The settings are kept in the NV record "push", the schedule (type, execution times, the instant
up to which executions were handled) in "push_sched".
"""
import asyncio
import random
import struct

from core import civil, dst, schedule
from cosem import dtype, errors
from cosem import push_setup as ps
from cosem import single_action_schedule as sas
from dlms import axdr, security
from links import wrapper
from runtime import key_transfer, log
from runtime.service import Service

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

KEY = "push"
KEY_SCHEDULE = "push_sched"
MAX_ENTRIES = 8
SCRIPTS_LN = b"\x00\x00\x0a\x00\x6c\xff"      # push script table 0-0:10.0.108
SCRIPT_INTERVAL = 1                             # its script pushing 0-1:25.9.0
_SCHED_HEAD = "<BBI"        # type, entries, executions handled up to (UTC s; 0: not yet)
_SCHED_ENTRY = "<BBBHBBB"   # hour, minute, second, year, month, day, day of week
_EXECUTED_SCRIPT = (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS_LN),
                                     (axdr.LONG_UNSIGNED, SCRIPT_INTERVAL)])
_ANY = const(0xFF)
DEFAULT_ENTRIES = [((0, 0, 0), (0xFFFF, _ANY, _ANY, _ANY))]
RECORD_MAX = 1024
MAX_OBJECTS = 16
_DATA_NOTIFICATION = const(0x0F)
_SERVER_WPORT = const(1)
_CLIENT_WPORT = const(102)
_TIMEOUT_S = const(5)
_MODEL_WAIT_MS = const(20)
_MODEL_WAITS = const(250)
_TCP = const(0)
_AXDR = const(0)

_LU = axdr.LONG_UNSIGNED
_OS = axdr.OCTET_STRING
_S = axdr.STRUCTURE

# (name, logical name)
SETUPS = (
    ("connect", b"\x00\x00\x19\x09\x00\xff"),
    ("interval", b"\x00\x01\x19\x09\x00\xff"),
    ("alarm", b"\x00\x04\x19\x09\x00\xff"),
)
_LDN = b"\x00\x00\x2a\x00\x00\xff"
_CLOCK = b"\x00\x00\x01\x00\x00\xff"
_ALARM1 = b"\x00\x00\x61\x62\x00\xff"
_ALARM2 = b"\x00\x00\x61\x62\x01\xff"
_A_PLUS = b"\x01\x00\x01\x08\x00\xff"
_A_MINUS = b"\x01\x00\x02\x08\x00\xff"
_ATTRS = ("push_object_list", "send_destination_and_method", "communication_window",
          "randomisation_start_interval", "number_of_retries", "repetition_delay")
_TYPES = tuple(e[1] for e in ps.PushSetup.ATTRS[1:])
_RECORD = (axdr.ARRAY, (_S, _TYPES))


def _object(class_id, ln, attr):
    return _S, [(_LU, class_id), (_OS, ln), (axdr.INTEGER, attr), (_LU, 0)]


def default_objects(ln):
    """The IDIS push object list of a setup: itself, the logical device name, the clock, then
    the alarm registers (on alarm) or the active energy totals (interval)."""
    items = [_object(40, ln, 1), _object(1, _LDN, 2), _object(8, _CLOCK, 2)]
    if ln[1] == 4:
        items += [_object(1, _ALARM1, 2), _object(1, _ALARM2, 2)]
    elif ln[1] == 1:
        items += [_object(3, _A_PLUS, 2), _object(3, _A_MINUS, 2)]
    return axdr.ARRAY, items


def _defaults(ln):
    # attributes 2..7; an empty destination: nothing is sent until one is written.
    return [default_objects(ln), (_S, [(axdr.ENUM, _TCP), (_OS, b""), (axdr.ENUM, _AXDR)]),
            (axdr.ARRAY, []), 0, 3, 10]


def destination(value):
    """(host, port) of a send_destination_and_method value, None when its destination is
    empty; ValueError unless it is TCP, A-XDR and "host:port"."""
    transport, dest, message = value[1][0][1], value[1][1][1], value[1][2][1]
    if not dest:
        return None
    if transport != _TCP or message != _AXDR:
        raise ValueError("only TCP transport with A-XDR messages")
    k = dest.rfind(b":")
    try:
        port = int(dest[k + 1:])
    except ValueError:
        raise ValueError("destination must be host:port")
    if k <= 0 or not 0 < port < 65536:
        raise ValueError("destination must be host:port")
    return dest[:k].decode(), port


def _seconds_of_day(raw):
    return raw[5] * 3600 + raw[6] * 60 + raw[7]


def in_window(windows, local_s):
    """True if local time `local_s` (meter epoch seconds) is inside one of the windows, or
    there is none. A window whose start date is all wildcards is a daily window of its times;
    any other is an absolute window of its date-times (other wildcards: never open)."""
    if not windows:
        return True
    for w in windows:
        start, end = w[1][0][1], w[1][1][1]
        if start[0:4] == b"\xff\xff\xff\xff" and end[0:4] == b"\xff\xff\xff\xff":
            if 0xFF in start[5:8] or 0xFF in end[5:8]:
                continue
            sod = local_s % 86400
            a, b = _seconds_of_day(start), _seconds_of_day(end)
            if (a <= sod < b) if a <= b else (sod >= a or sod < b):
                return True
            continue
        try:
            a = civil.to_epoch((start[0] << 8) | start[1], start[2], start[3], start[5],
                               start[6], start[7])
            b = civil.to_epoch((end[0] << 8) | end[1], end[2], end[3], end[5], end[6], end[7])
        except ValueError:
            continue
        if a <= local_s < b:
            return True
    return False


def pack_schedule(kind, entries, done):
    """The "push_sched" record."""
    out = struct.pack(_SCHED_HEAD, kind, len(entries), done or 0)
    for t, d in entries:
        out += struct.pack(_SCHED_ENTRY, t[0], t[1], t[2], d[0], d[1], d[2], d[3])
    return out


def unpack_schedule(raw):
    """(type, entries, done) of a "push_sched" record; ValueError if it is not one."""
    head = struct.calcsize(_SCHED_HEAD)
    size = struct.calcsize(_SCHED_ENTRY)
    if len(raw) < head:
        raise ValueError("push schedule record too short")
    kind, n, done = struct.unpack_from(_SCHED_HEAD, raw, 0)
    if len(raw) != head + n * size:
        raise ValueError("push schedule record of %d octets" % len(raw))
    entries = []
    for k in range(n):
        h, mi, sec, y, mo, d, w = struct.unpack_from(_SCHED_ENTRY, raw, head + k * size)
        entries.append(((h, mi, sec), (y, mo, d, w)))
    schedule.check(kind, entries)
    return kind, entries, done or None


class _Reader:
    """What an interface class needs of a View to read an attribute: the sources, no access
    rights (the push object list is configured by the management client)."""

    def __init__(self, sources):
        self.sources = sources

    def read(self, name, optional=False):
        try:
            return self.sources.read(name)
        except KeyError:
            if optional:
                return 0
        except errors.AccessError:
            raise
        except Exception as e:
            self.failed(name, e)
        raise errors.TemporaryFailure("source failed")

    def failed(self, name, e):
        log.warning("push: source %s failed: %s", name, e)


class Push(Service):
    """The push setups of the meter and their sending tasks."""

    def __init__(self, meter):
        self.meter = meter
        self.sources = None
        self.settings = [_defaults(ln) for _, ln in SETUPS]
        self.sent = [0] * len(SETUPS)
        self.failed = [0] * len(SETUPS)
        self._busy = [False] * len(SETUPS)
        self._again = [False] * len(SETUPS)
        self._invoke_id = 0
        self._said_plain = False    # the console was told that pushes go plain
        self.kind = 1
        self.entries = DEFAULT_ENTRIES
        self._done = None           # executions handled up to (UTC s), as kept in NV
        self._schedule = None       # core.schedule.Schedule while powered
        self._load()
        self._load_schedule()
        meter.events.subscribe(self._on_alarm)

    # -- settings ------------------------------------------------------------------------------

    def _load(self):
        raw = self.meter.store.read(KEY)
        if raw is None:
            return
        try:
            data = axdr.decode_all(raw)
            dtype.check(_RECORD, data)
            if len(data[1]) != len(SETUPS):
                raise ValueError("record holds %d setups" % len(data[1]))
        except (ValueError, errors.AccessError) as e:
            log.error("push record unusable (%s): default push setups", e)
            return
        for i in range(len(SETUPS)):
            v = data[1][i][1]
            self.settings[i] = [v[0], v[1], v[2], v[3][1], v[4][1], v[5][1]]

    def _load_schedule(self):
        raw = self.meter.store.read(KEY_SCHEDULE)
        if raw is None:
            return
        try:
            self.kind, self.entries, self._done = unpack_schedule(raw)
        except ValueError as e:
            log.error("push schedule record unusable (%s): daily at 00:00", e)

    def set_schedule(self, kind, entries):
        """New type and execution times of the push action schedule (checked, kept in NV);
        executions already handled are not repeated."""
        schedule.check(kind, entries)
        if len(entries) > MAX_ENTRIES:
            raise ValueError("at most %d execution times" % MAX_ENTRIES)
        done = self._schedule.done if self._schedule is not None else self._done
        self.meter.store.write(KEY_SCHEDULE, pack_schedule(kind, entries, done))
        self.kind = kind
        self.entries = list(entries)
        self._done = done
        if self._schedule is not None:
            self._schedule = self._new_schedule(done)

    def _new_schedule(self, done):
        return schedule.Schedule(self.kind, self.entries, self.meter.tou.rule, done)

    def _record(self, settings):
        items = []
        for s in settings:
            items.append((_S, [s[0], s[1], s[2], (_LU, s[3]), (axdr.UNSIGNED, s[4]),
                               (_LU, s[5])]))
        return axdr.encode((axdr.ARRAY, items))

    def _setter(self, i, k):
        def write(value):
            if k == 0 and len(value[1]) > MAX_OBJECTS:
                raise ValueError("at most %d objects" % MAX_OBJECTS)
            if k == 1:
                destination(value)
            new = [list(s) for s in self.settings]
            new[i][k] = value
            raw = self._record(new)
            if len(raw) > RECORD_MAX:
                raise ValueError("push settings need %d octets, %d available"
                                 % (len(raw), RECORD_MAX))
            self.meter.store.write(KEY, raw)
            self.settings = new
        return write

    def _getter(self, i, k):
        return lambda: self.settings[i][k]

    def bind(self, sources):
        self.sources = sources
        for i in range(len(SETUPS)):
            b = "push." + SETUPS[i][0] + "."
            for k in range(len(_ATTRS)):
                sources.getters[b + _ATTRS[k]] = self._getter(i, k)
                sources.setters[b + _ATTRS[k]] = self._setter(i, k)
            sources.actions[b + "push"] = self._method(i)
        g = sources.getters
        g["push_schedule.executed_script"] = lambda: _EXECUTED_SCRIPT
        g["push_schedule.type"] = lambda: self.kind
        g["push_schedule.execution_time"] = lambda: sas.entries_data(self.entries)
        sources.setters["push_schedule.type"] = lambda k: self.set_schedule(k, self.entries)
        sources.setters["push_schedule.execution_time"] = \
            lambda data: self.set_schedule(self.kind, sas.entries_from(data))
        sources.actions["push_scripts.execute"] = self._method(1)

    def _method(self, i):
        def run(_):
            if not self.trigger(i):
                raise errors.TemporaryFailure("push could not start")
        return run

    # -- triggers ------------------------------------------------------------------------------

    def power_on(self, now_s):
        self._schedule = self._new_schedule(self._done)
        self._poll(now_s)
        self.trigger(0)

    def power_off(self, now_s, hard):
        self._schedule = None

    def next_due(self, now_s):
        return self._schedule.pending() if self._schedule is not None else None

    def tick(self, now_s):
        self._poll(now_s)

    def _poll(self, now_s):
        s = self._schedule
        if s.rule is not self.meter.tou.rule:    # a new time zone or DST rule
            s = self._schedule = self._new_schedule(s.done)
        first = s.done is None
        if s.due(now_s) or first:
            # An execution (or the starting point) is kept at once: a power cut does not
            # repeat it, an execution missed while the meter was off runs once at power up.
            self._done = s.done
            self.meter.store.write(KEY_SCHEDULE, pack_schedule(self.kind, self.entries,
                                                               self._done))
            if not first:
                self.trigger(1)

    def _on_alarm(self, register, bits, t_s):
        self.trigger(2)

    def trigger(self, i):
        """Start push setup `i` (queued behind one in flight); False if no task can start."""
        if self._busy[i]:
            self._again[i] = True
            return True
        run = self._run(i)
        try:
            asyncio.create_task(run)
        except RuntimeError as e:  # no event loop running (a meter driven without its tasks)
            run.close()
            self.failed[i] += 1
            log.warning("push %s not started: %s", SETUPS[i][0], e)
            return False
        self._busy[i] = True
        return True

    async def _run(self, i):
        try:
            self._again[i] = True
            while self._again[i]:
                self._again[i] = False
                await self._push(i)
        except Exception as e:  # a push must never take the meter down: counted and logged
            self.failed[i] += 1
            log.error("push %s: %s %s", SETUPS[i][0], type(e).__name__, e)
        finally:
            self._busy[i] = False

    async def _push(self, i):
        name = SETUPS[i][0]
        s = self.settings[i]
        try:
            where = destination(s[1])
        except ValueError as e:
            where = None
            log.warning("push %s: %s", name, e)
        if where is None:
            return
        if s[3]:
            await asyncio.sleep(random.getrandbits(16) % (s[3] + 1))
        for _ in range(_MODEL_WAITS):  # at boot the COSEM model is built after the services
            if getattr(self.sources, "model", None) is not None:
                break
            await asyncio.sleep(_MODEL_WAIT_MS / 1000)
        else:
            self.failed[i] += 1
            log.warning("push %s: no COSEM model to read", name)
            return
        if not in_window(s[2][1], self._local_now()):
            log.info("push %s: outside its communication window, not sent", name)
            return
        frame = wrapper.encode(_SERVER_WPORT, _CLIENT_WPORT, self.protect(self.notification(i)))
        for attempt in range(s[4] + 1):
            if attempt:
                await asyncio.sleep(s[5])
            try:
                await asyncio.wait_for(self._send(where, frame), _TIMEOUT_S)
                self.sent[i] += 1
                return
            except (OSError, asyncio.TimeoutError) as e:
                log.warning("push %s to %s:%d: attempt %d failed (%s)", name, where[0], where[1],
                            attempt + 1, e)
        self.failed[i] += 1
        log.error("push %s to %s:%d failed after %d attempts", name, where[0], where[1], s[4] + 1)

    @staticmethod
    async def _send(where, frame):
        reader, writer = await asyncio.open_connection(where[0], where[1])
        try:
            writer.write(frame)
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    def _local_now(self):
        now = self.meter.board.clock.now()
        tou = getattr(self.meter, "tou", None)
        return dst.local_from_utc(now, tou.rule)[0] if tou is not None else now

    # -- notification --------------------------------------------------------------------------

    def values(self, i):
        """The Data values of the push object list of setup `i`, read as a GET would read them
        (null-data for what cannot be read)."""
        model = self.sources.model
        reader = _Reader(self.sources)
        out = []
        for item in self.settings[i][0][1]:
            class_id, ln, attr, index = (f[1] for f in item[1])
            out.append(self._value(model, reader, class_id, ln, attr, index))
        return out

    @staticmethod
    def _value(model, reader, class_id, ln, attr, index):
        row = model.lookup(ln)
        if row is None or row[1].CLASS_ID != class_id:
            return axdr.NULL, None
        cls = row[1]
        try:
            cls.attr(attr)
            if cls.secret(attr):
                return axdr.NULL, None
            v = cls.get(reader, row, attr, None, None)
            if isinstance(v, dtype.LazyArray):
                v = v.data()
        except errors.AccessError:
            return axdr.NULL, None
        if index:
            if v[0] not in (axdr.ARRAY, axdr.STRUCTURE) or index > len(v[1]):
                return axdr.NULL, None
            v = v[1][index - 1]
        return v

    def notification(self, i):
        """The Data-Notification APDU of setup `i` now."""
        self._invoke_id = (self._invoke_id + 1) & 0xFFFFFF
        try:
            when = self.sources.read("clock.time")
        except Exception:   # a clock that cannot be read: the optional date-time is left empty
            when = b""
        body = axdr.encode((_S, self.values(i)))
        return (struct.pack(">BIB", _DATA_NOTIFICATION, self._invoke_id, len(when)) + when
                + body)

    def protect(self, apdu):
        """`apdu` as the management client's security policy asks: general-glo-ciphered under
        its global keys and the next invocation counter of its security suite (a view valid
        until that suite protects again), or plain for policy 0 or without a COSEM server."""
        sc = key_transfer.POLICY_SC[self.sources.values["sec0.security_policy"]]
        if not sc:
            return apdu
        # build() sets the suite together with the model the push waited for; a meter stand-in
        # without a server has none.
        suite = getattr(self.sources, "suite", None)
        if suite is None:
            if not self._said_plain:
                self._said_plain = True
                log.warning("push: no COSEM server security context, notifications sent plain")
            return apdu
        return suite.protect(sc, apdu, security.GENERAL_GLO)


def make(meter):
    """The push service of the meter."""
    return Push(meter)
