# The modem models nbkit drives: the ONE registry (MIT licence). Read by the firmware (app.links
# picks the driver and the link), and by the host as `from nbkit.modem import models` (board
# validation, emulator personas, energy profiles, CLI choices). Plain data: no imports, so the
# same file runs in MicroPython and in CPython.
#
# A new model is one line here plus what differs (its driver module, emulator persona, energy
# profile, virtual board data).

# families: the socket command set a model speaks
HUAWEI = "huawei"  # Huawei "Neul" firmware: AT+NSOCR/NSOST/NSORF, REBOOT_CAUSE_ banner
QI = "qi"  # Quectel QI stack: AT+QIOPEN/QISEND/QIRD/QICLOSE, +QIURC, RDY at boot

# model -> (family, driver module, driver class, uplink transports it carries, RAT)
MODELS = {
    "bc95": (HUAWEI, "nbkit.modem.bc95", "Bc95", ("udp", "mqtt", "coap"), "nb-iot"),
    "bc28": (HUAWEI, "nbkit.modem.bc95", "Bc95", ("udp", "mqtt", "coap"), "nb-iot"),
    "bc26": (QI, "nbkit.modem.ec200", "Ec200", ("udp", "tcp", "mqtt"), "nb-iot"),
    "ec200": (QI, "nbkit.modem.ec200", "Ec200", ("udp", "tcp", "mqtt"), "cat1"),
    "ec600": (QI, "nbkit.modem.ec200", "Ec200", ("udp", "tcp", "mqtt"), "cat1"),
    "bc660k": (QI, "nbkit.modem.bc660k", "Bc660k", ("udp", "tcp", "mqtt"), "nb-iot"),
}

NAMES = tuple(MODELS)


def family(model):
    # -> HUAWEI or QI; ValueError naming the known models for anything else.
    return entry(model)[0]


def transports(model):
    return entry(model)[3]


def of_family(fam):
    # -> the model names of one family, in registry order.
    return tuple(name for name in MODELS if MODELS[name][0] == fam)


def driven_by(cls):
    # -> the model names whose driver class is named cls ("Ec200"), in registry order.
    return tuple(name for name in MODELS if MODELS[name][2] == cls)


def entry(model):
    found = MODELS.get(model) if isinstance(model, str) else None
    if found is None:
        raise ValueError("unknown modem model %r (one of %s)" % (model, ", ".join(NAMES)))
    return found


def driver(model):
    # -> the driver class for model, imported on first use (only one driver is ever loaded).
    _, module, cls, _, _ = entry(model)
    return getattr(__import__(module, None, None, (cls,)), cls)
