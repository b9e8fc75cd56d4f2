# Frozen modules of the pyboard_ads131 firmware image (MicroPython manifest syntax).
# From a MicroPython source tree:
#   make -C ports/stm32 BOARD=PYBV11 FROZEN_MANIFEST=<repo>/boards/pyboard_ads131/manifest.py
# The build runs this file from its own folder, so relative paths start here.
import os

# The port's own frozen set (asyncio among others).
include("$(PORT_DIR)/boards/manifest.py")

# Every firmware package and top-level module (main.py runs at boot when frozen).
_FIRMWARE = "../../firmware"
for _name in sorted(os.listdir(_FIRMWARE)):
    if os.path.isfile(os.path.join(_FIRMWARE, _name, "__init__.py")):
        package(_name, base_path=_FIRMWARE)
    elif _name.endswith(".py"):
        module(_name, base_path=_FIRMWARE)

# This board's modules: hw.py, the ADS131M0x driver, the relay.
for _name in sorted(os.listdir(".")):
    if _name.endswith(".py") and _name != "manifest.py":
        module(_name)
