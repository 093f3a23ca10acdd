# device: what touches a real or virtual board's flash and console: board data (boards.py),
# build, deploy, flash, flashimg (littlefs images), provision and keys (`nbkit keys new`).
