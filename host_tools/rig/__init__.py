# rig: the virtual rig (rig.py: collector + modem emulator + virtual board wired together),
# `nbkit demo` (demo.py) and the non-water demo profiles (profiles.py).
