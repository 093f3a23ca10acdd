# Device profiles: what a device is, declared once (config key "profile"). app.wiring builds the
# application from the entry, store.config accepts exactly these names, and the host (nbkit
# boards, the rig and demo, bench, the CLI's --profile choices) imports this same file as
# nbkit.profiles. Data only, no imports: every layer may read it.
#
# (name, app, bus, medium, pins), in the order they are listed to people:
#   app     "meter": app.meter.MeterApp over a reader; "smoke": app.smoke_app.SmokeApp
#   bus     the meter-bus protocol read at every sample (a board with "meterbus" data), or None:
#           a water meter counts pulses (app.water.WaterMeter)
#   medium  what is measured ("water", "gas", "electricity", "smoke"; the CJ/T 188 meter type)
#   pins    the board pins the profile uses (board data "pins")
PROFILES = (
    ("water", "meter", None, "water", ("pulse_a", "tamper")),
    ("gas-cjt188", "meter", "cjt188", "gas", ()),
    ("electricity-dlt645", "meter", "dlt645", "electricity", ()),
    ("smoke", "smoke", None, "smoke", ("smoke_adc", "button", "tamper", "battery_adc")),
)
DEFAULT = "water"


def names():
    # -> every profile name, in listing order
    return tuple(p[0] for p in PROFILES)


def get(name):
    # -> (name, app, bus, medium, pins) of profile `name`; ValueError naming the known ones
    for entry in PROFILES:
        if entry[0] == name:
            return entry
    raise ValueError("unknown profile %r: one of %s" % (name, ", ".join(names())))
