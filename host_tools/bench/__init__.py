# bench: `nbkit bench` (command.py) and its suites: firmware size and heap, AT driver speed,
# payload sizes, energy per report (power.py) and emulator throughput.
