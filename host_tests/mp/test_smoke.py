# The MicroPython runner itself: viper is available and ptr16 loads are unsigned.
import array
import micropython


@micropython.viper
def _sum16(buf: ptr16, n: int) -> int:
    s = 0
    for i in range(n):
        s += int(buf[i])
    return s


def test_ptr16_is_unsigned():
    a = array.array("h", [1, -1])
    if _sum16(a, 2) != 65536:
        raise AssertionError("ptr16 load not zero-extended")
