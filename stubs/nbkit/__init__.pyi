# Type hints of nbkit's public firmware API for MicroPython projects (micropython-stubs users).
