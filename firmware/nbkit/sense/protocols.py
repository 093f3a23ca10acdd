# The meter-bus protocols, one line each: name -> (title, baud, parity). The codec is the module
# nbkit.sense.<name> (pure encode/decode, its Protocol: frame descriptor + decode, a Meter
# client); the host's emulator persona and decoder are host_tools.meterbus.persona_<name>.
# Read by the firmware app (app.busmeter), `nbkit meterbus` and `nbkit meter decode`.
PROTOCOLS = {
    "cjt188": ("CJ/T 188-2004 water, gas and heat meters", 2400, "even"),
    "dlt645": ("DL/T 645-2007 electricity meters", 2400, "even"),
    "mbus": ("M-Bus EN 13757-2/-3 water and heat meters", 2400, "even"),
}


def codec(name):
    # the codec module of a registered protocol
    if name not in PROTOCOLS:
        raise ValueError("unknown meter protocol %r" % name)
    return __import__("nbkit.sense." + name, None, None, (name,))
