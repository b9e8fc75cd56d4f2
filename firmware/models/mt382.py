"""MT382: three-phase meter (per-phase energy and instantaneous values)."""
from models import common


def rows():
    """Every object of the MT382."""
    yield from common.identity_rows()
    yield from common.management_rows()
    yield from common.tariff_rows()
    yield from common.energy_rows(3)
    yield from common.instantaneous_rows(3)
