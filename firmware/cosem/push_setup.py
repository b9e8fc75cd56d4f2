"""Class 40 Push setup (version 0): what to push (push_object_list), where and how
(send_destination_and_method), when it may go (communication_window), how it starts and retries;
method 1 push sends it now. Every attribute and the method reach the row's binding
(`<binding>.push_object_list` ... `<binding>.push`), see runtime.push."""
from dlms import axdr
from cosem import ic
from cosem.ic import W

_OS = axdr.OCTET_STRING
# {class_id, logical_name, attribute_index, data_index}
OBJECT_DEFINITION = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, (_OS, 6, 6), axdr.INTEGER,
                                      axdr.LONG_UNSIGNED))
OBJECT_LIST = (axdr.ARRAY, OBJECT_DEFINITION)
# {transport_service, destination, message}
DESTINATION = (axdr.STRUCTURE, (axdr.ENUM, (_OS, 0, 64), axdr.ENUM))
# array of {start_time, end_time} (date-time octet-strings)
WINDOW = (axdr.ARRAY, (axdr.STRUCTURE, ((_OS, 12, 12), (_OS, 12, 12))))


class PushSetup(ic.Interface):
    """Class 40, version 0."""

    CLASS_ID = 40
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("push_object_list", OBJECT_LIST, W, None, None),
        ("send_destination_and_method", DESTINATION, W, None, None),
        ("communication_window", WINDOW, W, None, None),
        ("randomisation_start_interval", axdr.LONG_UNSIGNED, W, None, None),
        ("number_of_retries", axdr.UNSIGNED, W, None, None),
        ("repetition_delay", axdr.LONG_UNSIGNED, W, None, None),
    )
    METHODS = (("push", axdr.INTEGER, None),)
