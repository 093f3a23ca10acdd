# vboard: the virtual board, the firmware run by the MicroPython unix port (`nbkit vboard`,
# command.py; host.py the process, parts.py its pins/UART/flash) and mpy.py, the port runner.
