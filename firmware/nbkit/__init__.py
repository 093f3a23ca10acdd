# nbkit firmware package: NB-IoT meter and smoke-sensor firmware for MicroPython.
# Subpackages are imported on use only (hal, at, modem, lte, store, proto, sense, app, console),
# so a small board loads just what its application needs.
VERSION = "0.1.0"
