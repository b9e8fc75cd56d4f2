"""Object tables of the meter models (declarative: one row per COSEM object) and their loader."""
from cosem.objects import Model
from models import common

NAMES = ("me382", "mt382")


def rows(name):
    """Row generator of a model's object table; ValueError for an unknown model."""
    if name == "me382":
        from models import me382 as m
    elif name == "mt382":
        from models import mt382 as m
    else:
        raise ValueError("unknown model " + repr(name))
    return m.rows()


def load(name, sources):
    """The Model (object registry) of meter model `name` over `sources` (see cosem.sources)."""
    # A first pass counts the rows so that the model's arrays are allocated once.
    count = sum(1 for _ in rows(name))
    return Model(rows(name), common.CLIENTS, sources, common.SERVER_SAP, count)
