"""Class 1 Data: attribute 2 value, whose type is the row argument (a dtype description, None for
a CHOICE whose source gives Data tuples)."""
from cosem import ic
from cosem.ic import MAIN, ROWTYPE, W


class Data(ic.Interface):
    """Class 1, version 0: logical_name, value."""

    CLASS_ID = 1
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (("value", None, W | MAIN | ROWTYPE, None, None),)

    @classmethod
    def check_arg(cls, arg):
        pass
