# hil: hardware-in-the-loop testing: the pytest plugin (plugin.py: --board/--port, fixtures)
# and the `dut` console driver (dut.py) for a real board or the virtual rig.
"""Hardware-in-the-loop testing: the `dut` console and the pytest plugin (`--board`, `--port`)."""
