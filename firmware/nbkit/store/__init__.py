# Durable storage on the device's flash filesystem (littlefs): the reading queue, the config
# (config.py, shared with the host), the event log and the apps' atomic state files.
