# Applications: device.py (one wake), wiring.py (the app built from board data and the profile),
# meter/smoke_app with the shared report loop (uplink.py), links, scheduler; imported on use.
