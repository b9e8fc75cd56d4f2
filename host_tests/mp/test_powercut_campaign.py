# Power-cut campaign: the real Meter on the host board, NV in RAM, a load applied and meter time
# moving (analytic advance and sampled blocks), with power cuts at random byte offsets of random NV
# writes (clean and torn pages), cuts just after a write, hard cuts between writes, and retention
# bit flips in one copy of a record during an outage. After every cut a new Meter boots on the same
# NV and the checks below must hold.
#
# Runs under MicroPython (host_tests/mp/runner.py, a small sample) and is imported by
# host_tests/test_powercut_campaign.py, which runs the bulk of the cut points under CPython. The
# random generator is our own, so a seed gives the same campaign under both interpreters.
#
# Checks after each reboot:
# - every record (energy, cal, ic, clock, keys) reads back as the value of its last completed write
#   or of the write the cut interrupted, never anything else (a stale record brought back is
#   counted as "revived": see _check_records); the registers of the booted Meter (totals, per
#   phase, tariffs) equal the registers that record was packed from;
# - energy registers never decrease across reboots (except right after a bit flip destroyed the
#   newest energy copy: then the previous save is expected, exactly);
# - energy lost (registers at the cut - registers after the boot) <= what was registered since the
#   last completed save; a cut between writes comes less than SAVE_PERIOD_S after that save;
# - every record decodes with its real parser (never garbage);
# - nvstore.health() reports no lost record, except one whose very first write was cut.
import asyncio
import gc
import struct
from binascii import crc32

import hw
import sim_nv
from core import dst
from measure.calibration import Calibration, PhaseCal
from runtime import clock_settings, key_transfer
from runtime import meter as meter_mod

START = 820454400  # 2026-01-01T00:00:00 UTC, seconds since 2000
# The energy record: version 2 (with the tariff registers) where the meter has it.
KEY_E = getattr(meter_mod, "KEY_REGISTERS", meter_mod.KEY_ENERGY)
# The record store and a shrunk share of every ring (runtime.nvlayout).
NV_SIZE = 65536
KEYS = (meter_mod.KEY_CAL, KEY_E, meter_mod.KEY_IC, meter_mod.KEY_CLOCK, meter_mod.KEY_KEYS)
OTHER = (meter_mod.KEY_CAL, meter_mod.KEY_KEYS, meter_mod.KEY_CLOCK, meter_mod.KEY_IC)
BROKEN = object()   # model value of a copy known not to be valid


class Rng:
    """xorshift32: the same sequence under CPython and MicroPython."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, percent):
        return self.below(100) < percent

    def bytes(self, n):
        return bytes(self.below(256) for _ in range(n))


def layout(nv):
    """key -> (address of copy A, copy size, max data length) of the meter's store (the store's
    own allocation: the copies are then decoded below without the store)."""
    out = {}
    for key, s in meter_mod.open_store(nv)._slots.items():
        out[key] = (s[1], s[2] - s[1], s[3])
    return out


def oracle_copies(nv, key):
    """[(valid, seq, data)] of copies A and B, decoded from the raw NV image."""
    addr, n, max_len = layout(nv)[key]
    out = []
    for c in (0, 1):
        raw = bytearray(n)
        nv.readinto(addr + c * n, raw)
        magic, ln, tag, seq = struct.unpack_from("<HHII", raw, 0)
        ok = (magic == 0x5352 and tag == crc32(key.encode()) and ln <= max_len
              and struct.unpack_from("<I", raw, 12 + ln)[0] == crc32(raw[:12 + ln]))
        out.append((ok, seq, bytes(raw[12:12 + ln]) if ok else None))
    return out


def oracle_newest(nv, key):
    """Index (0/1) of the newest valid copy, or -1."""
    cp = oracle_copies(nv, key)
    if cp[0][0] and cp[1][0]:
        return 0 if 0 < ((cp[0][1] - cp[1][1]) & 0xFFFFFFFF) < 0x80000000 else 1
    return 0 if cp[0][0] else (1 if cp[1][0] else -1)


class Campaign:
    """One seeded run: `cuts` power cuts on one meter model."""

    def __init__(self, seed, model, cuts, factory=True):
        self.rng = Rng(seed)
        self.seed = seed
        self.model = model
        self.nph = 3 if model == "mt382" else 1
        self.cuts = cuts
        self.factory = factory
        self.stats = {"cuts": 0, "clean": 0, "torn": 0, "idle": 0, "old": 0, "new": 0,
                      "flips": 0, "flip_newest": 0, "service_cuts": 0, "saves": 0, "writes": 0, "reboots": 0,
                      "lost_sum": 0, "lost_max": 0, "lost_n": 0, "lost_all_max": 0,
                      "first_write_lost": 0, "at_end": 0, "revived": 0, "unsaved_s_max": 0,
                      "idle_unsaved_s_max": 0}
        self.by_key = {}    # key -> [old, new] outcomes of cut writes
        self.committed = {}  # key -> value a read returns (model)
        self.prev = {}       # key -> value of the other copy (None erased, BROKEN)
        self.inflight = None  # (key, data) of the write in progress
        self.arm = None       # (writes to let through, torn) of the next cut
        self.task_errors = []
        self.cut_now = False    # the supply failed just after the last write completed
        self.revivable = {}     # key -> record of a newest copy broken by a flip (_check_records)
        self.flip_next = False  # a retention error during the next outage
        self.snap = {}         # energy record -> the registers it was packed from
        self.saved_t = START   # meter time of the last completed energy save
        self.revived = False   # the energy record revived at this boot
        self.rollback = False  # newest energy copy destroyed since the last boot
        for k in KEYS:
            self.committed[k] = None
            self.prev[k] = None
            self.by_key[k] = [0, 0]

    # -- store instrumentation -------------------------------------------------------------

    def _instrument(self, store):
        write = store.write

        def recorded(key, data):
            data = bytes(data)
            t = self.board.clock.now()
            self.inflight = (key, data, t)
            if key == KEY_E:
                # The save packs the registers as they are now: remember them with the record.
                self.snap[data] = self._regs(self.meter)
            if self.arm is not None:
                skip, torn = self.arm
                if skip == 0:
                    # Any byte offset of this write, or just after its last byte.
                    size = 12 + len(data) + 4
                    at = self.rng.below(size + 1)
                    self.board.nv.cut_after(at, torn, 1 + self.rng.below(1000))
                    self.arm = None
                    if at == size:
                        self.cut_now = True
                        self.stats["at_end"] += 1
                    elif key in KEYS:
                        self.stats["torn" if torn else "clean"] += 1
                    else:   # a service's record: checked by that service's own tests
                        self.stats["service_cuts"] += 1
                else:
                    self.arm = (skip - 1, torn)
            write(key, data)
            self.revivable.pop(key, None)   # the broken copy has been overwritten whole
            # Records of the services are written (and cut) too; only KEYS are checked.
            self.prev[key] = self.committed.get(key)
            self.committed[key] = data
            self.inflight = None
            self.stats["writes"] += 1
            if key == KEY_E:
                self.stats["saves"] += 1
                self.saved_t = t
                self._prune()
        store.write = recorded

    # -- workload --------------------------------------------------------------------------

    def _record(self, key):
        r = self.rng
        if key == meter_mod.KEY_CAL:
            ph = [PhaseCal(990000 + r.below(20001), 990000 + r.below(20001),
                           r.below(2001) - 1000, r.below(200), r.below(200))
                  for _ in range(self.nph)]
            return Calibration(self.nph, ph, 990000 + r.below(20001)).to_bytes()
        if key == meter_mod.KEY_CLOCK:
            return clock_settings.pack(dst.eu_rule(r.pick((-180, -120, -60, 0, 60))))
        if key == meter_mod.KEY_KEYS:
            return key_transfer.pack(r.below(4), r.bytes(16), r.bytes(16))
        return struct.pack("<II", r.below(1 << 30), r.below(1 << 30))

    def _load(self):
        r = self.rng
        for p in range(1, self.nph + 1):
            self.board.afe.configure(p if self.nph > 1 else None, u=200 + r.below(60),
                                     i=r.below(21), phi=r.pick((0, 30, 60, 90, 150, 180, 240, 300)))

    def _flip(self):
        # A retention error in one copy of a record whose two copies both hold known values, while
        # the meter is off (see test_flip_in_the_newest_copy_then_a_cut_save for a running one).
        r = self.rng
        key = r.pick(KEYS)
        if (self.committed[key] is None or self.prev[key] is None or self.prev[key] is BROKEN
                or self.inflight is not None and self.inflight[0] == key):
            return
        newest = oracle_newest(self.board.nv, key)
        c = r.below(2)
        addr, n, _ = layout(self.board.nv)[key]
        data = self.committed[key] if c == newest else self.prev[key]
        self.board.nv.flip(addr + c * n + r.below(12 + len(data) + 4), r.below(8))
        self.stats["flips"] += 1
        if c == newest:
            self.stats["flip_newest"] += 1
            self.revivable[key] = self.committed[key]
            self.committed[key] = self.prev[key]
            if key == KEY_E:
                self.rollback = True
        self.prev[key] = BROKEN

    # -- boot and checks -------------------------------------------------------------------

    def _boot(self):
        # The write the cut interrupted is checked after the boot, whose own writes (services
        # restoring their state) must not take its place.
        cut = self.inflight
        m = meter_mod.Meter(self.board, {"model": self.model})
        self._instrument(m.store)
        m.power_on_sync()
        self.inflight = cut
        self.meter = m
        self.saved_t = self.board.clock.now()  # the registers equal the NV record now
        self.stats["reboots"] += 1
        return m

    def _regs(self, m):
        # Totals, per-phase rows and, where the meter has them, the tariff registers.
        e = getattr(m, "energy_regs", None) or m.metrology.energy
        out = list(e.total)
        for row in e.phase or ():
            out += row
        t = getattr(m, "tariff_regs", None)
        for row in t.regs if t is not None else ():
            out += row
        return out

    def _check_records(self, m):
        store = m.store
        for key in KEYS:
            got = store.read(key)
            want = [self.committed[key]]
            cut = self.inflight is not None and self.inflight[0] == key
            if cut:
                want.append(self.inflight[1])
            if cut and got not in want and got == self.revivable.get(key):
                # A cut write over a flipped copy that brings the stale record back. The record
                # store prevents it (its sequence field is rewritten first); counted here, and the
                # CPython side requires the count to stay 0.
                self.stats["revived"] += 1
                self.prev[key] = self.committed[key]
                self.committed[key] = got
                del self.revivable[key]
                if key == KEY_E:
                    self.revived = True
                continue
            if got not in want:
                raise AssertionError("seed %d: record %s read %r, expected one of %r"
                                     % (self.seed, key, got, want))
            if len(want) == 2:
                outcome = 0 if got == want[0] else 1
                self.by_key[key][outcome] += 1
                self.stats["new" if outcome else "old"] += 1
                if outcome:
                    if key == KEY_E:
                        self.saved_t = self.inflight[2]
                    self.prev[key] = self.committed[key]
                    self.committed[key] = got
                else:
                    self.prev[key] = BROKEN
            if got is None:
                continue
            if key == meter_mod.KEY_CAL:
                Calibration.load(got, self.nph)
            elif key == meter_mod.KEY_CLOCK:
                clock_settings.unpack(got)
            elif key == meter_mod.KEY_KEYS:
                key_transfer.unpack(got)
            elif key == meter_mod.KEY_IC:
                if len(got) != 8:
                    raise AssertionError("ic record of %d bytes" % len(got))
        self.inflight = None
        lost = store.health()["lost"]
        for key in lost:
            if self.committed.get(key) is not None:
                raise AssertionError("seed %d: record %s lost although it was saved"
                                     % (self.seed, key))
            self.stats["first_write_lost"] += 1
        # The booted registers are the record's, exactly.
        regs = self._regs(m)
        want = self._saved()
        if regs != want:
            raise AssertionError("seed %d: booted registers %r, record %r"
                                 % (self.seed, regs, want))
        return regs

    def _cut(self, saved_regs, boot_regs):
        """Hard cut now (a write may have been cut already); reboot and check."""
        m = self.meter
        live = self._regs(m)
        unsaved = self.board.clock.now() - self.saved_t
        if self.inflight is None:
            # Between writes the periodic save has run within the last SAVE_PERIOD_S.
            self.stats["idle"] += 1
            if unsaved >= meter_mod.SAVE_PERIOD_S:
                raise AssertionError("seed %d: %d s since the last completed save"
                                     % (self.seed, unsaved))
            self.stats["idle_unsaved_s_max"] = max(self.stats["idle_unsaved_s_max"], unsaved)
        for t in m._tasks:
            # A save cut inside the sampling task ended it with PowerCut: the supply is gone.
            if getattr(t, "done", None) and t.done() and not t.cancelled():
                t.exception()
        m.power_off(hard=True)
        self.board.nv.restore()
        self.arm = None
        self.cut_now = False
        if self.flip_next:
            self.flip_next = False
            self._flip()
        self.stats["cuts"] += 1
        m2 = self._boot()
        regs = self._check_records(m2)
        rollback = self.rollback or self.revived
        self.rollback = self.revived = False
        worst = 0
        for i in range(len(regs)):
            if not rollback and regs[i] < boot_regs[i]:
                raise AssertionError("seed %d: register %d went down %d -> %d across a reboot"
                                     % (self.seed, i, boot_regs[i], regs[i]))
            if not rollback and regs[i] < saved_regs[i]:
                raise AssertionError("seed %d: register %d below its last completed save"
                                     % (self.seed, i))
            if regs[i] > live[i] and not rollback:
                raise AssertionError("seed %d: register %d above its value at the cut"
                                     % (self.seed, i))
            lost = live[i] - regs[i]
            if not rollback and lost > live[i] - saved_regs[i]:
                raise AssertionError("seed %d: register %d lost %d mWh, only %d since the last save"
                                     % (self.seed, i, lost, live[i] - saved_regs[i]))
            worst = max(worst, lost)
        if not rollback:
            a = live[0] - regs[0]
            self.stats["lost_sum"] += a
            self.stats["lost_max"] = max(self.stats["lost_max"], a)
            self.stats["lost_n"] += 1
            self.stats["unsaved_s_max"] = max(self.stats["unsaved_s_max"], unsaved)
            self.stats["lost_all_max"] = max(self.stats["lost_all_max"], worst)
        return regs

    async def run(self, sample=True, board=None):
        gc.collect()
        loop = asyncio.get_event_loop()
        loop.set_exception_handler(self._task_error)
        r = self.rng
        if board is None:
            board = new_board(self.model)
        board.clock.set(START)
        self.board = board
        self.board.nv = sim_nv.NvMem(NV_SIZE, page=r.pick((16, 32, 64, 256)))
        m = self._boot()
        if self.factory:
            for key in OTHER:
                m.store.write(key, self._record(key))
            m.save()
        self._load()
        boot_regs = self._regs(m)
        while self.stats["cuts"] < self.cuts:
            m = self.meter
            try:
                op = r.below(100)
                if op < 1:
                    self._load()
                elif op < 8:
                    key = r.pick(OTHER)
                    m.store.write(key, self._record(key))
                elif op < 10:
                    m.save()
                elif op < 12:
                    self.flip_next = True
                elif op < 15 and sample:
                    for _ in range(1 + r.below(3)):
                        await asyncio.sleep_ms(0)
                elif op < 70:
                    await m.advance(1 + r.below(1300))
                elif op < 93:
                    if self.arm is None:
                        self.arm = (r.below(3), r.chance(40))
                else:
                    boot_regs = self._cut(self._saved(), boot_regs)
                    continue
            except sim_nv.PowerCut:
                pass
            for e in self.task_errors:
                if not isinstance(e, sim_nv.PowerCut):
                    raise e
            self.task_errors = []
            if self.board.nv.down or self.cut_now:
                boot_regs = self._cut(self._saved(), boot_regs)
        self.meter.power_off(hard=True)
        return self.summary()

    def _saved(self):
        raw = self.committed[KEY_E]
        if raw is None:
            return [0] * len(self._regs(self.meter))
        return self.snap[raw]

    def _prune(self):
        keep = (self.committed[KEY_E], self.prev[KEY_E], self.revivable.get(KEY_E))
        for raw in list(self.snap):
            if raw not in keep:
                del self.snap[raw]

    def _task_error(self, loop, context):
        self.task_errors.append(context.get("exception"))

    def summary(self):
        s = dict(self.stats)
        s["by_key"] = dict(self.by_key)
        return s


def new_board(model):
    return hw.Board(model, {"state_dir": None, "realtime": False, "start": START, "nv_size": NV_SIZE,
                            "block_frames": 200})


def run(seed, model, cuts, factory=True, sample=True, board=None):
    """Stats of one campaign (see Campaign.stats); `board` (a host board of `model`, reused
    between campaigns to spare the heap) gets a fresh NV memory and clock."""
    return asyncio.run(Campaign(seed, model, cuts, factory).run(sample, board))


def merge(results):
    out = {}
    for s in results:
        for k in s:
            if k == "by_key":
                bk = out.setdefault("by_key", {})
                for key in s[k]:
                    o = bk.setdefault(key, [0, 0])
                    o[0] += s[k][key][0]
                    o[1] += s[k][key][1]
            elif k in ("lost_max", "lost_all_max", "unsaved_s_max", "idle_unsaved_s_max"):
                out[k] = max(out.get(k, 0), s[k])
            else:
                out[k] = out.get(k, 0) + s[k]
    return out


def test_campaign_me382():
    gc.collect()
    board = new_board("me382")
    s = merge([run(seed, "me382", 25, factory=seed % 4 != 0, board=board) for seed in range(1, 5)])
    if s["cuts"] != 100 or s["old"] == 0 or s["idle"] == 0:
        raise AssertionError(repr(s))
    print("powercut me382:", sorted((k, v) for k, v in s.items() if k != "by_key"))


def test_campaign_mt382():
    meter_mod.current = None    # the last me382 meter and its board: free their heap
    gc.collect()
    board = new_board("mt382")
    s = merge([run(seed, "mt382", 20, board=board) for seed in range(101, 103)])
    if s["cuts"] != 40 or s["old"] == 0:
        raise AssertionError(repr(s))
    print("powercut mt382:", sorted((k, v) for k, v in s.items() if k != "by_key"))
