# NV record store under the real micropython binary: a power cut at every byte of a save (clean and
# torn) leaves the old or the new record, never garbage.
import sim_nv
from runtime import nvstore


def _store(nv):
    s = nvstore.NvStore(nv)
    s.register("energy", 64)
    s.register("log", 16)
    return s


def _campaign(torn):
    old, new = b"old record " * 3, b"the new record!" * 4
    size = 12 + len(new) + 4
    for cut in range(size + 1):
        nv = sim_nv.NvMem(1024, page=32)
        s = _store(nv)
        s.write("log", b"keep me")
        s.write("energy", b"older")
        s.write("energy", old)
        nv.cut_after(cut, torn=torn, seed=cut + 1)
        try:
            s.write("energy", new)
        except sim_nv.PowerCut:
            pass
        nv.restore()
        again = _store(nv)
        got = again.read("energy")
        want = (new,) if cut == size else (old, new)
        if got not in want or again.read("log") != b"keep me":
            raise AssertionError("cut at %d read %r" % (cut, got))


def test_power_cut_at_every_byte():
    _campaign(False)


def test_torn_page_at_every_byte():
    _campaign(True)


def test_health_counts():
    nv = sim_nv.NvMem(1024)
    s = _store(nv)
    s.write("energy", b"a")
    s.write("energy", b"b")
    nv.flip(0, 0)
    h = s.health()
    if (h["valid"], h["invalid"], h["erased"], h["lost"]) != (1, 1, 2, []):
        raise AssertionError(repr(h))
    if s.read("energy") != b"b":
        raise AssertionError("newest copy not read")
