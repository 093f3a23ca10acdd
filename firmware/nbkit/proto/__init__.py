# Payload codec: the compact authenticated frame between a device and the collector.
# Pure code, no hardware: the same files are imported by the firmware (MicroPython) and by
# host_tools (CPython, as `nbkit.proto`), so both ends speak byte-identical frames.
