"""NV ring buffer against a list model: appends, resets, reboots and power cuts in any order."""
import struct

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import sim_nv
from runtime.ringstore import RingStore

ESIZE = 5
SLOT = 8 + ESIZE + 4
CAP = 4
BASE = 8


class RingModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.nv = sim_nv.NvMem(BASE + (CAP + 1) * SLOT + 8, page=8)
        self.ring = RingStore(self.nv, BASE, ESIZE, CAP)
        self.model = []
        self.k = 0

    def _next_entry(self):
        self.k += 1
        return struct.pack("<IB", self.k, self.k & 0xFF)

    @rule()
    def append(self):
        e = self._next_entry()
        self.ring.append(e)
        self.model = (self.model + [e])[-CAP:]

    @rule()
    def reset(self):
        self.ring.reset()
        self.model = []

    @rule()
    def reboot(self):
        self.ring = RingStore(self.nv, BASE, ESIZE, CAP)

    @rule(cut=st.integers(0, SLOT), torn=st.booleans(), seed=st.integers(1, 1000),
          reset=st.booleans())
    def cut_during_write(self, cut, torn, seed, reset):
        e = self._next_entry()
        self.nv.cut_after(cut, torn=torn, seed=seed)
        try:
            if reset:
                self.ring.reset()
            else:
                self.ring.append(e)
        except sim_nv.PowerCut:
            pass
        self.nv.restore()
        self.ring = RingStore(self.nv, BASE, ESIZE, CAP)
        old = self.model
        new = [] if reset else (old + [e])[-CAP:]
        got = [bytes(x) for x in self.ring.oldest_first()]
        assert got in (old, new)
        if cut == SLOT:
            assert got == new
        self.model = got

    @invariant()
    def matches_model(self):
        r = self.ring
        assert r.entries_in_use == len(self.model)
        assert [bytes(x) for x in r.oldest_first()] == self.model
        assert [bytes(x) for x in r.newest_first()] == self.model[::-1]
        assert [bytes(r.read(i)) for i in range(len(r))] == self.model


RingModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestRingModel = RingModel.TestCase
