# Durable storage on the device's flash filesystem (littlefs): the reading queue and the config.
