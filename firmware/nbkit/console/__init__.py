# Field-technician console: a line protocol on the console UART (not the Python REPL).
# lines.py frames bytes into bounded lines, auth.py guards access (service PIN, challenge-
# response, exponential lockout), console.py parses and answers commands. See console.py for
# the protocol and for the interfaces of the objects the console is given.
