# Device profiles: what a device is, declared once (config key "profile"). app.wiring builds the
# application from the entry, store.config accepts exactly these names, and the host (nbkit
# boards, the rig and demo, bench, the CLI's --profile choices) imports this same file as
# nbkit.profiles. Data only, no imports: every layer may read it.
#
# One line per profile, columns split on spaces ("-": none), in the order they are listed:
#   app     meter: app.meter.MeterApp over a reader; smoke: app.smoke_app.SmokeApp
#   bus     the meter-bus protocol read at every sample (a board with "meterbus" data), or -:
#           a water meter counts pulses (app.water.WaterMeter)
#   medium  what is measured (water, gas, electricity, heat, smoke; the CJ/T 188 meter type)
#   pins    the board pins the profile uses (board data "pins"), comma-separated
# A text table, not tuples: on the device it costs one string instead of ~25 objects of heap.
TABLE = """
water               meter  -       water        pulse_a,tamper
gas-cjt188          meter  cjt188  gas          -
electricity-dlt645  meter  dlt645  electricity  -
heat-mbus           meter  mbus    heat         -
smoke               smoke  -       smoke        smoke_adc,button,tamper,battery_adc
"""
DEFAULT = "water"


def _rows():
    for line in TABLE.split("\n"):
        cols = line.split()
        if cols:
            yield cols


def names():
    # -> every profile name, in listing order
    return tuple(cols[0] for cols in _rows())


def get(name):
    # -> (name, app, bus or None, medium, (pin, ...)) of profile `name`; ValueError naming the
    # known profiles otherwise
    for cols in _rows():
        if cols[0] == name:
            bus = None if cols[2] == "-" else cols[2]
            pins = () if cols[4] == "-" else tuple(cols[4].split(","))
            return (name, cols[1], bus, cols[3], pins)
    raise ValueError("unknown profile %r: one of %s" % (name, ", ".join(names())))
