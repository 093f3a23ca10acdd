# Hardware abstraction: the only package that touches machine/os/termios.
# Drivers receive these objects; they never construct hardware themselves.
