"""The object model under the real micropython binary: identical answers to CPython for every
attribute of both models (differential), the heap the MT382 model takes, every request of every
client in a small heap, and mpy-cross over every module."""
import glob
import json
import os
import subprocess

import pytest

import mpy

# Runs unchanged under CPython and MicroPython: a fake sources object holding a valid value for
# every source of a model, and a walk over every object, attribute and client.
WALK = r"""
import binascii
import gc
import hashlib
import models
from core import dst
from cosem import dtype, errors, ic, obis
from cosem.sources import DictSources
from dlms import axdr

DT = axdr.pack_datetime(2024, 3, 15, 5, 12, 30, 45, 0, -60, 0)


def sample(t):
    if t is None:
        return (axdr.UNSIGNED, 7)
    if isinstance(t, int):
        t = (t, None, None)
    if t[0] == axdr.ARRAY:
        return (axdr.ARRAY, [cell(t[1])])
    if t[0] == axdr.STRUCTURE:
        return (axdr.STRUCTURE, [cell(e) for e in t[1]])
    if t[0] == axdr.BOOLEAN:
        return True
    if t[0] in (axdr.OCTET_STRING, axdr.VISIBLE_STRING):
        if t[1] == 12:
            return DT
        return b"ABCDEFGH"[:8 if t[1] is None else max(t[1], min(t[2], 8))]
    return 0 if t[1] is None else t[1]


def cell(t):
    tag = dtype.tag_of(t)
    return sample(t) if tag is None else (tag, sample(t))


# Register families computed from their name (a small heap has no room for a dict of every
# source), a dict of valid values for the rest.
class Sources(DictSources):
    def read(self, name):
        if name.startswith("energy."):
            if name == "energy.A+.t4":
                raise KeyError(name)
            return 5555500 if name == "energy.A+.t3" else 1234567891
        if name.startswith("inst."):
            return -857 if name.startswith("inst.pf") else 23049
        return DictSources.read(self, name)


# A profile buffer as cosem.profile reads it: two rows of one Data value per capture object.
class Table:
    clock_column = 0
    rule = dst.eu_rule()
    dropped = 0

    def __init__(self, cells):
        self._cells = cells

    def __len__(self):
        return 2

    def instant(self, i):
        return 763700000 + 900 * i

    def cells(self, i):
        return list(self._cells)


def table(model, row):
    cells = []
    for c in row[ic.ARG][0]:
        target = model.lookup(c[1])
        cells.append(cell(target[ic.IC].attr_type(target, c[2])))
    return Table(cells)


def fake(model):
    values = {"id.ldn": b"ISK1030792957277"}
    actions = {}
    shared = {}     # one sample value per type description, shared by the sources of that type
    for row in model.rows():
        cls = row[ic.IC]
        bind = row[ic.BIND]
        if bind is None or bind.startswith("energy.") or bind.startswith("inst."):
            continue
        for n in range(1, len(cls.ATTRS) + 1):
            e = cls.ATTRS[n - 1]
            name = ic.source_name(row, e[0], e[2] & ic.MAIN)
            if cls.CLASS_ID == 7 and e[0] == "buffer":
                values[name] = table(model, row)
            elif name not in values:
                t = cls.attr_type(row, n)
                if t not in shared:
                    shared[t] = sample(t)
                values[name] = shared[t]
        for m in cls.METHODS:
            actions[ic.source_name(row, m[0], False)] = lambda arg: None
    return Sources(values=values, actions=actions)


# The encoding of a GET answer as a digest: streamed answers are never joined in RAM.
def digest(value):
    h = hashlib.sha256()
    for piece in (value.chunks() if hasattr(value, "chunks") else (axdr.encode(value),)):
        h.update(piece)
    return binascii.hexlify(h.digest()).decode()


def result(answer):
    code, data = answer
    return [code, None if data is None else binascii.hexlify(axdr.encode(data)).decode()]


def walk(name, out, names=True):
    model = models.load(name, None)
    model.sources = fake(model)
    for sap in (16, 1, 102):
        view = model.associate(sap, hls=lambda f: b"\x10" + f)
        if view.status == 1:
            out.append(result(view.action(view.find(15, obis.parse("0-0:40.0.0")), 1,
                                          (axdr.OCTET_STRING, b"\x10\x01"))))
        for row in model.rows():
            try:
                obj = view.find(row[ic.IC].CLASS_ID, row[ic.LN])
            except errors.AccessError as e:
                out.append(e.result)
                continue
            for n in range(1, len(row[ic.IC].ATTRS) + 2):
                try:
                    out.append(digest(view.get(obj, n)))
                except errors.AccessError as e:
                    out.append(e.result)
        clock = view.find(8, obis.parse("0-0:1.0.0"))
        for attr, value in ((2, (axdr.OCTET_STRING, DT)), (3, (axdr.LONG, 900)), (2, (9, b"x")),
                            (8, (axdr.BOOLEAN, False))):
            try:
                view.set(clock, attr, value)
                out.append("ok")
            except errors.AccessError as e:
                out.append(e.result)
        out.append(result(view.action(clock, 6, (axdr.LONG, 30))))
        out.append(result(view.action(clock, 6, (axdr.LONG, 3000))))
    if names:
        out.append(model.source_names())
    return out


class Counter:
    n = 0

    def append(self, item):
        self.n += 1
"""


def cpython_walk(name):
    scope = {}
    exec(WALK, scope)
    return json.loads(json.dumps(scope["walk"](name, [])))


@pytest.fixture(scope="module")
def mp_worker():
    # The walk keeps one digest string per answer (4203 on the MT382) until it returns; made one
    # after the other between the answers' garbage, they end up spread over the whole heap: in
    # the default 2 MB heap of the 64-bit unix port 1.3 MB is free after the ME382 walk but no
    # free run is longer than 2.9 KB, and the set of source names (4 KB) finds no room. A
    # PC-sized heap as for the MicroPython test modules (test_mp_suite.py); the object model's
    # own heap need is test_every_request_in_a_small_heap's, whose walk keeps nothing.
    w = mpy.Worker(heapsize="8m")
    yield w
    w.close()


@pytest.mark.parametrize("name", ["me382", "mt382"])
def test_micropython_answers_like_cpython(mp_worker, name):
    mp_worker.exec("import sys\n" + WALK)
    assert mp_worker.eval("sys.implementation.name") == "micropython"
    got = mp_worker.eval("walk(%r, [])" % name)
    want = cpython_walk(name)
    assert len(got) == len(want) > 1000
    assert got == want


# The modules the tables name are imported by the first load; the second load is the model
# alone, then two associations (pre-established, management with HLS pending) are opened on it.
HEAP = r"""
import gc
gc.collect()
a0 = gc.mem_alloc()
import models
from cosem.sources import DictSources
models.load("mt382", DictSources())
gc.collect()
a1 = gc.mem_alloc()
m = models.load("mt382", DictSources())
gc.collect()
a2 = gc.mem_alloc()
pre = m.associate(102)
mgmt = m.associate(1, hls=lambda f: b"\x10" + f)
gc.collect()
a3 = gc.mem_alloc()
print("objects", m.size)
print("pre", pre.status)
print("mgmt", mgmt.status)
print("code", a1 - a0)
print("model", a2 - a1)
print("associations", a3 - a2)
"""


def _figures(out):
    return {k: int(v) for k, v in (line.split() for line in out.strip().splitlines())}


def test_heap_taken_by_the_mt382_model():
    import models
    from cosem.association import ASSOCIATED, ASSOCIATION_PENDING
    fig = _figures(mpy.run_code(HEAP))
    print("\nMT382 model under micropython (64-bit unix port): %(objects)d objects, "
          "model %(model)d bytes (%(per)d per object), two associations %(associations)d bytes, "
          "modules %(code)d bytes" % dict(fig, per=fig["model"] // fig["objects"]))
    assert fig["objects"] == sum(1 for _ in models.rows("mt382"))
    assert (fig["pre"], fig["mgmt"]) == (ASSOCIATED, ASSOCIATION_PENDING)
    # Measured: 35872 bytes for 407 objects (88 per object), 480 bytes for the two associations.
    assert fig["model"] < 40 * 1024
    assert fig["associations"] < 1024


def test_every_request_in_a_small_heap():
    # 864 KB: the smallest heap this runs in is 754 KB on the 64-bit unix port. Of it, the
    # modules compiled from source keep ~232 KB (see test_heap_taken_by_the_mt382_model) and
    # their compilation needs ~465 KB while the model loads; the model keeps ~36 KB, the fake
    # sources ~119 KB; the requests add ~21 KB at most over that (416 KB live at the peak).
    code = WALK + r"""
out = walk("mt382", Counter(), False)
gc.collect()
print("alloc", gc.mem_alloc())
print("items", out.n)
"""
    fig = _figures(mpy.run_code(code, heapsize="864k"))
    print("\nevery MT382 request in a 864 KB heap: %(items)d answers, %(alloc)d bytes in use after"
          % fig)
    assert fig["items"] == len(cpython_walk("mt382")) - 1 > 1000     # all but the names


def test_mpy_cross_compiles_every_module(tmp_path):
    cross = os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross")
    files = sorted(glob.glob(os.path.join(mpy.FIRMWARE, "cosem", "*.py")) +
                   glob.glob(os.path.join(mpy.FIRMWARE, "models", "*.py")))
    assert len(files) > 15
    for src in files:
        proc = subprocess.run([cross, "-march=armv7emsp", src, "-o", str(tmp_path / "x.mpy")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
