# simclock: one time master per rig (conservative discrete-event co-simulation) and the
# participant side every host process uses; the firmware's side is firmware/nbkit/hal/simclock.py.
