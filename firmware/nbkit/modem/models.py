# The modem models nbkit drives: the ONE registry (MIT licence). Read by the firmware (app.links
# picks the driver and the link), and by the host as `from nbkit.modem import models` (board
# validation, emulator personas, energy profiles, the rig's virtual boards, CLI choices). Data
# only, no imports: the same file runs in MicroPython and in CPython.
#
# One line per model, columns split on spaces (the layout of nbkit/profiles.py: one string of
# heap on the device instead of dozens of objects):
#   family      huawei: Huawei "Neul" firmware, AT+NSOCR/NSOST/NSORF, REBOOT_CAUSE_ banner
#               qi: Quectel QI stack, AT+QIOPEN/QISEND/QIRD/QICLOSE, +QIURC, RDY at boot
#   driver      module:Class of its driver
#   transports  the uplink transports it carries, comma-separated
#   rat         nb-iot or cat1
# A new model is one line here plus what differs (its driver, emulator persona, energy profile,
# virtual board data).
TABLE = """
bc95    huawei  nbkit.modem.bc95:Bc95      udp,mqtt,coap  nb-iot
bc28    huawei  nbkit.modem.bc95:Bc95      udp,mqtt,coap  nb-iot
bc26    qi      nbkit.modem.ec200:Ec200    udp,tcp,mqtt   nb-iot
ec200   qi      nbkit.modem.ec200:Ec200    udp,tcp,mqtt   cat1
ec600   qi      nbkit.modem.ec200:Ec200    udp,tcp,mqtt   cat1
bc660k  qi      nbkit.modem.bc660k:Bc660k  udp,tcp,mqtt   nb-iot
"""

HUAWEI = "huawei"
QI = "qi"


def _rows():
    for line in TABLE.split("\n"):
        cols = line.split()
        if cols:
            yield cols


def names():
    # -> every model name, in listing order
    return tuple(cols[0] for cols in _rows())


def entry(model):
    # -> (family, driver module, driver class, (transport, ...), rat); ValueError naming the
    # known models for anything else.
    for cols in _rows():
        if cols[0] == model:
            module, _, cls = cols[2].partition(":")
            return (cols[1], module, cls, tuple(cols[3].split(",")), cols[4])
    raise ValueError("unknown modem model %r (one of %s)" % (model, ", ".join(names())))


def family(model):
    return entry(model)[0]


def transports(model):
    return entry(model)[3]


def driven_by(cls):
    # -> the model names whose driver class is cls ("Ec200"), in listing order.
    return tuple(cols[0] for cols in _rows() if cols[2].endswith(":" + cls))


def driver(model):
    # -> the driver class for model, imported on first use (only one driver is ever loaded).
    _, module, cls, _, _ = entry(model)
    return getattr(__import__(module, None, None, (cls,)), cls)
