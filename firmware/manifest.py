# nbkit frozen into a MicroPython board build (MicroPython's manifest format):
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/nbkit/firmware/manifest.py
# The port's own manifest first (asyncio, etc.), then every nbkit module, frozen as bytecode.
# main.py and board.json stay files on the board's filesystem (`nbkit deploy` puts them there,
# or `mpremote mip install --target / boards/<board>.mip.json` and a copy of main.py): a frozen
# nbkit is found after the filesystem ('' comes before '.frozen' in sys.path), so a later
# `nbkit deploy` of newer modules overrides the frozen ones.
# `nbkit build` checks that this manifest freezes exactly the firmware's modules.
include("$(PORT_DIR)/boards/manifest.py")
package("nbkit")
