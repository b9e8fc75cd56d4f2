"""Error registers (class 1, double-long-unsigned), bound to runtime.error_service: the IDIS error
register 0-0:97.97.0, the manufacturer error register 0-0:97.97.1 and the error filter
0-0:97.97.10 (our choice of OBIS, by analogy to alarm filter 1). Management reads them and writes
them (0 clears a register, a filter is replaced); the pre-established client reads them."""
from dlms import axdr
from cosem.data import Data

_DLU = axdr.DOUBLE_LONG_UNSIGNED
_RW = (None, "rb", "r*")


def rows():
    """The three error objects."""
    yield "0-0:97.97.0", Data, "errors.idis", _DLU, _RW
    yield "0-0:97.97.1", Data, "errors.ie", _DLU, _RW
    yield "0-0:97.97.10", Data, "errors.filter", _DLU, _RW
