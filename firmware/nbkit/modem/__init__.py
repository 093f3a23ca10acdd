# Modem profiles (BC95/BC28) and the modem lifecycle state machine.
