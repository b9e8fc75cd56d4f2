"""Communication setup classes: 19 IEC local port setup, 23 IEC HDLC setup, 41 TCP-UDP setup.

Every attribute but logical_name is a source `<binding>.<attribute>` (settings kept by the
links and the runtime). Ranges follow the Blue Book; the IEC passwords are never readable.
"""
from dlms import axdr
from cosem import ic
from cosem.ic import SECRET, W

_BAUD = (axdr.ENUM, 0, 9)
_PASSWORD = (axdr.OCTET_STRING, 0, 32)


class IecLocalPortSetup(ic.Interface):
    """Class 19, version 1."""

    CLASS_ID = 19
    VERSION = 1
    ATTRS = ic.Interface.ATTRS + (
        ("default_mode", (axdr.ENUM, 0, 2), W, None, None),
        ("default_baud", _BAUD, W, None, None),
        ("prop_baud", _BAUD, W, None, None),
        ("response_time", (axdr.ENUM, 0, 1), W, None, None),
        ("device_addr", (axdr.OCTET_STRING, 0, 32), W, None, None),
        ("pass_p1", _PASSWORD, W | SECRET, None, None),
        ("pass_p2", _PASSWORD, W | SECRET, None, None),
        ("pass_w5", _PASSWORD, W | SECRET, None, None),
    )


class HdlcSetup(ic.Interface):
    """Class 23, version 1."""

    CLASS_ID = 23
    VERSION = 1
    ATTRS = ic.Interface.ATTRS + (
        ("comm_speed", _BAUD, W, None, None),
        ("window_size_transmit", (axdr.UNSIGNED, 1, 7), W, None, None),
        ("window_size_receive", (axdr.UNSIGNED, 1, 7), W, None, None),
        ("max_info_field_length_transmit", (axdr.LONG_UNSIGNED, 32, 2030), W, None, None),
        ("max_info_field_length_receive", (axdr.LONG_UNSIGNED, 32, 2030), W, None, None),
        ("inter_octet_time_out", (axdr.LONG_UNSIGNED, 20, 6000), W, None, None),
        ("inactivity_time_out", axdr.LONG_UNSIGNED, W, None, None),
        ("device_address", (axdr.LONG_UNSIGNED, 0x10, 0x3FFD), W, None, None),
    )


class TcpUdpSetup(ic.Interface):
    """Class 41, version 0."""

    CLASS_ID = 41
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("tcp_udp_port", axdr.LONG_UNSIGNED, W, None, None),
        ("ip_reference", (axdr.OCTET_STRING, 6, 6), W, None, None),
        ("mss", (axdr.LONG_UNSIGNED, 40, 65535), W, None, None),
        ("nb_of_sim_conn", axdr.UNSIGNED, W, None, None),
        ("inactivity_time_out", axdr.LONG_UNSIGNED, W, None, None),
    )
