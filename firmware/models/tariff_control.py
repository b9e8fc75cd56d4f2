"""Tariffication control (application 12), bound to runtime.tariff_service: the register
activation objects 0-0:14.0.1 (energy: the tariff registers 1-0:C.8.T) and 0-0:14.0.2 (demand:
the maximum demand registers 1-0:C.6.T), each with masks "T1".."T8" and the active mask of the
tariff in force; the tariffication script table 0-0:10.0.100 (script n: manual activation of
tariff n); the tariff switch source 0-0:96.14.128 (our OBIS, enum: 0 activity calendar, 1 manual
or remote script activation only).

The register and mask lists are fixed (no client gets access to the class 6 methods). The
scripts are described as the Blue Book suggests (write the active masks and the tariff
indicator); the tariff service carries them out through the Meter's time of use.
"""
from dlms import axdr
from cosem import register_activation
from cosem.data import Data
from cosem.register import ExtendedRegister, Register
from cosem.register_activation import RegisterActivation
from cosem.script_table import ScriptTable, action
from models.billing import DEMAND
from models.common import ENERGY, TARIFFS

ENERGY_ACTIVATION = "0-0:14.0.1"
DEMAND_ACTIVATION = "0-0:14.0.2"
SCRIPTS = "0-0:10.0.100"
TARIFF = "0-0:96.14.0"
SWITCH_SOURCE = "0-0:96.14.128"

# Management reads the lists and the active mask; no one may call the methods (fixed lists).
_ACTIVATION = (None, "rrrr/---", "r*")
_SCRIPTS = (None, "rr/x", "r*")
_SOURCE = (None, "rb", "r*")
_SOURCE_TYPE = (axdr.ENUM, 0, 1)


def mask_name(t):
    """The name of the mask of tariff t: b"T1" .. b"T8"."""
    return ("T%d" % t).encode()


def _activation(class_id, cs, d):
    # Registers 1-0:C.D.T for every quantity C and tariff T, tariff-major: mask Tn lists the
    # registers of tariff n.
    regs = [(class_id, bytes((1, 0, c, d, t, 255))) for t in range(1, TARIFFS + 1) for c in cs]
    n = len(cs)
    masks = [(mask_name(t), tuple(range((t - 1) * n + 1, t * n + 1)))
             for t in range(1, TARIFFS + 1)]
    return register_activation.argument(regs, masks)


ENERGY_ARG = _activation(Register.CLASS_ID, [c for _, c, _ in ENERGY], 8)
DEMAND_ARG = _activation(ExtendedRegister.CLASS_ID, [c for _, c, _ in DEMAND], 6)

TARIFF_SCRIPTS = tuple(
    (t, (action(1, RegisterActivation.CLASS_ID, ENERGY_ACTIVATION, 4,
                (axdr.OCTET_STRING, mask_name(t))),
         action(1, RegisterActivation.CLASS_ID, DEMAND_ACTIVATION, 4,
                (axdr.OCTET_STRING, mask_name(t))),
         action(1, Data.CLASS_ID, TARIFF, 2, (axdr.LONG_UNSIGNED, t))))
    for t in range(1, TARIFFS + 1))


def rows():
    """Register activation (energy, demand), tariffication script table, switch source."""
    yield ENERGY_ACTIVATION, RegisterActivation, "activation.energy", ENERGY_ARG, _ACTIVATION
    yield DEMAND_ACTIVATION, RegisterActivation, "activation.demand", DEMAND_ARG, _ACTIVATION
    yield SCRIPTS, ScriptTable, "tariff_scripts", TARIFF_SCRIPTS, _SCRIPTS
    yield SWITCH_SOURCE, Data, "tariff_switch.source", _SOURCE_TYPE, _SOURCE
