"""Simulated NV memory (boards/host/sim_nv.py): file backing and fault injection."""
import os
import tempfile

import pytest

import sim_nv


@pytest.fixture
def state_dir():
    with tempfile.TemporaryDirectory() as d:
        yield d + "/state"


def file_bytes(nv):
    with open(nv.path, "rb") as f:
        return f.read()


def test_new_file_is_erased_and_writes_persist(state_dir):
    nv = sim_nv.NvFile(state_dir, size=4096)
    assert file_bytes(nv) == b"\xff" * 4096
    nv.write(100, b"hello")
    nv.write(4094, memoryview(b"xy"))
    buf = bytearray(7)
    nv.readinto(99, buf)
    assert buf == b"\xffhello\xff"
    nv.sync()
    nv.close()
    again = sim_nv.NvFile(state_dir, size=4096)
    buf = bytearray(2)
    again.readinto(4094, buf)
    assert buf == b"xy" and file_bytes(again)[100:105] == b"hello"
    again.close()


def test_out_of_range_access_is_rejected():
    nv = sim_nv.NvMem(size=64)
    with pytest.raises(ValueError):
        nv.write(60, b"12345")
    with pytest.raises(ValueError):
        nv.readinto(-1, bytearray(2))


def test_cut_keeps_exactly_the_bytes_before_the_cut(state_dir):
    nv = sim_nv.NvFile(state_dir, size=1024)
    nv.write(0, b"A" * 32)
    nv.cut_after(40)
    nv.write(0, b"B" * 30)  # 30 of the 40 bytes
    with pytest.raises(sim_nv.PowerCut) as e:
        nv.write(100, b"C" * 20)  # stops after 10
    assert "\n" not in str(e.value)
    assert nv.down
    with pytest.raises(sim_nv.PowerCut):
        nv.write(500, b"D")
    data = file_bytes(nv)
    assert data[:32] == b"B" * 30 + b"AA"
    assert data[100:120] == b"C" * 10 + b"\xff" * 10
    assert data[500] == 0xFF
    nv.restore()
    nv.write(500, b"D")
    assert file_bytes(nv)[500:501] == b"D"
    nv.close()


def test_cut_at_zero_and_at_the_end_of_a_write():
    nv = sim_nv.NvMem(size=64)
    nv.cut_after(4)
    nv.write(0, b"1234")  # exactly the budget: completes
    with pytest.raises(sim_nv.PowerCut):
        nv.write(8, b"5")
    buf = bytearray(9)
    nv.readinto(0, buf)
    assert buf == b"1234\xff\xff\xff\xff\xff"


def test_torn_page_mixes_old_and_new_inside_the_page_only(state_dir):
    nv = sim_nv.NvFile(state_dir, size=1024, page=64)
    nv.write(0, b"\x00" * 256)
    nv.cut_after(10, torn=True, seed=3)
    with pytest.raises(sim_nv.PowerCut):
        nv.write(40, b"\x11" * 100)  # cut at address 50, inside page 0..63
    data = file_bytes(nv)
    assert data[40:50] == b"\x11" * 10
    torn = data[50:64]
    assert set(torn) == {0x00, 0x11}  # some bytes landed, some kept their old value
    assert data[64:140] == b"\x00" * 76  # the next page was never programmed
    nv.close()


def test_flip_changes_one_bit_and_persists(state_dir):
    nv = sim_nv.NvFile(state_dir, size=256)
    nv.write(10, b"\x0f")
    nv.flip(10, 7)
    nv.close()
    nv = sim_nv.NvFile(state_dir, size=256)
    assert file_bytes(nv)[10] == 0x8F
    with pytest.raises(ValueError):
        nv.flip(10, 8)
    nv.close()


def test_unusable_state_directory_gives_a_one_line_error():
    with tempfile.NamedTemporaryFile() as f:
        with pytest.raises(sim_nv.NvError) as e:
            sim_nv.NvFile(f.name + "/state")
    msg = str(e.value)
    assert "\n" not in msg and "state" in msg


def test_wrong_sized_file_is_refused(state_dir):
    os.mkdir(state_dir)
    with open(state_dir + "/nv.bin", "wb") as f:
        f.write(b"\xff" * 100)
    with pytest.raises(sim_nv.NvError, match="100|4096"):
        sim_nv.NvFile(state_dir, size=4096)


def test_nv_file_under_micropython(mp_worker, state_dir):
    mp_worker.exec("import sim_nv\nnv = sim_nv.NvFile(%r, size=512)" % state_dir)
    mp_worker.exec("nv.write(3, b'abc')\nnv.cut_after(2)")
    assert mp_worker.eval("nv.size") == 512
    mp_worker.exec("try:\n nv.write(10, b'wxyz')\nexcept sim_nv.PowerCut:\n cut = True")
    assert mp_worker.eval("cut and nv.down")
    mp_worker.exec("nv.close()")
    with open(state_dir + "/nv.bin", "rb") as f:
        data = f.read()
    assert len(data) == 512 and data[:14] == b"\xff\xff\xffabc\xff\xff\xff\xffwx\xff\xff"
    mp_worker.exec("nv = sim_nv.NvFile(%r, size=512)\nb = bytearray(3)\nnv.readinto(3, b)" % state_dir)
    assert mp_worker.eval("bytes(b) == b'abc'")
    mp_worker.exec("nv.close()")
    with tempfile.NamedTemporaryFile() as f:
        mp_worker.exec("try:\n sim_nv.NvFile(%r)\nexcept sim_nv.NvError as e:\n msg = str(e)" % (f.name + "/x"))
        assert "cannot" in mp_worker.eval("msg")
