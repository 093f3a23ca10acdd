# Applications and the one scheduler that decides when the device wakes; imported on use.
