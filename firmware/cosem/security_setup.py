"""Class 64 Security setup (version 0). Attributes are sources `<binding>.<attribute>`; the two
methods are delegated to `<binding>.security_activate` (policy enum) and
`<binding>.global_key_transfer` (the array of {key_id, wrapped key} as a Data tuple). No
attribute holds a key: keys reach the security layer only through key transfer and are never
readable."""
from dlms import axdr
from cosem import ic

_KEY_DATA = (axdr.STRUCTURE, ((axdr.ENUM, 0, 3), axdr.OCTET_STRING))


class SecuritySetup(ic.Interface):
    """Class 64, version 0: security_policy, security_suite, client/server system title."""

    CLASS_ID = 64
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("security_policy", (axdr.ENUM, 0, 3), 0, None, None),
        ("security_suite", axdr.ENUM, 0, None, None),
        ("client_system_title", (axdr.OCTET_STRING, 0, 8), 0, None, None),
        ("server_system_title", (axdr.OCTET_STRING, 8, 8), 0, None, None),
    )
    METHODS = (
        ("security_activate", (axdr.ENUM, 0, 3), None),
        ("global_key_transfer", (axdr.ARRAY, _KEY_DATA), None),
    )
