# The build profile. This source file says "development": firmware run from source (the unix port,
# the tests, `nbkit vboard` without --profile) keeps the Python REPL. `nbkit build --profile
# production` writes its own nbkit/build_profile.mpy saying "production"
# (host_tools/device/build.py): then the console is locked (nbkit.app.lockdown). A firmware
# without this module is production.
PROFILE = "development"
