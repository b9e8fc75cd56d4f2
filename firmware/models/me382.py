"""ME382: single-phase meter (U1, I1, neutral current)."""
from models import alarms, billing, common, errors, logs, power_quality, profiles, push
from models import tariff_control
from models import switching


def rows():
    """Every object of the ME382."""
    yield from common.identity_rows()
    yield from common.management_rows()
    yield from common.tariff_rows()
    yield from common.energy_rows(1)
    yield from common.instantaneous_rows(1)
    yield from profiles.rows()
    yield from logs.rows()
    yield from billing.rows()
    yield from alarms.rows()
    yield from push.rows()
    yield from power_quality.rows(1)
    yield from errors.rows()
    yield from switching.rows(1)
    yield from tariff_control.rows()
