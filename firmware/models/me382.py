"""ME382: single-phase meter (U1, I1, neutral current)."""
from models import common


def rows():
    """Every object of the ME382."""
    yield from common.identity_rows()
    yield from common.management_rows()
    yield from common.tariff_rows()
    yield from common.energy_rows(1)
    yield from common.instantaneous_rows(1)
