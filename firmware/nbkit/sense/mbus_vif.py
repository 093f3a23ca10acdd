# M-Bus value information (EN 13757-3): what a VIF says about a value, as (quantity, unit,
# decimal exponent). Primary VIFs, and the extension tables FD and FB (VIF 0xFD / 0xFB, then
# the true VIF in the first VIFE). Units are SI base units (Wh, J, m3, kg, W, C, K, bar, V, A):
# a 10 kWh step is ("energy", "Wh", 4). Pure; nbkit.sense.mbus_data and the host read it.
_TIME = ("s", "min", "h", "d")


def vif_primary(v):
    # (quantity, unit, decimal exponent) of a primary VIF (bit 7 masked off)
    if v < 0x20:
        return (("energy", "Wh", v - 3), ("energy", "J", v - 8), ("volume", "m3", v - 22),
                ("mass", "kg", v - 27))[v >> 3]  # fmt: skip
    if v < 0x28:
        return ("on time" if v < 0x24 else "operating time", _TIME[v & 3], 0)
    if v < 0x58:
        k = (v >> 3) - 5
        return (("power", "W", v - 0x2B), ("power", "J/h", v - 0x30),
                ("volume flow", "m3/h", v - 0x3E), ("volume flow", "m3/min", v - 0x47),
                ("volume flow", "m3/s", v - 0x51), ("mass flow", "kg/h", v - 0x53))[k]  # fmt: skip
    if v < 0x6C:
        k = (v - 0x58) >> 2
        q = ("flow temperature", "return temperature", "temperature difference",
             "external temperature", "pressure")[k]  # fmt: skip
        return (q, ("C", "C", "K", "C", "bar")[k], (v & 3) - 3)
    if v < 0x6E:
        return ("date" if v == 0x6C else "date and time", "", 0)
    if 0x70 <= v < 0x78:
        return ("averaging duration" if v < 0x74 else "actuality duration", _TIME[v & 3], 0)
    names = {0x6E: "HCA units", 0x78: "fabrication number", 0x79: "enhanced identification",
             0x7A: "bus address", 0x7B: "VIF 0x7B without its FB extension",
             0x7D: "VIF 0x7D without its FD extension", 0x7E: "any VIF",
             0x7F: "manufacturer specific"}  # fmt: skip
    return (names.get(v, "reserved VIF 0x%02X" % v), "", 0)


def vif_fd(v):
    # extension table FD (VIF 0xFD, then this VIFE)
    if v < 8:
        return ("credit" if v < 4 else "debit", "currency", (v & 3) - 3)
    if 0x40 <= v < 0x50:
        return ("voltage", "V", v - 0x49)
    if 0x50 <= v < 0x60:
        return ("current", "A", v - 0x5C)
    if 0x24 <= v < 0x28:
        return ("storage interval", _TIME[v & 3], 0)
    if 0x2C <= v < 0x30:
        return ("duration since last readout", _TIME[v & 3], 0)
    names = {8: "access number", 9: "medium", 0x0A: "manufacturer", 0x0B: "parameter set id",
             0x0C: "model/version", 0x0D: "hardware version", 0x0E: "firmware version",
             0x0F: "software version", 0x10: "customer location", 0x11: "customer",
             0x16: "password", 0x17: "error flags", 0x18: "error mask", 0x1A: "digital output",
             0x1B: "digital input", 0x1C: "baud rate", 0x1D: "response delay",
             0x1E: "retry", 0x3A: "dimensionless", 0x60: "reset counter",
             0x61: "cumulation counter", 0x62: "control signal", 0x63: "day of week",
             0x64: "week number", 0x70: "date and time of battery change"}  # fmt: skip
    return (names.get(v, "FD VIFE 0x%02X" % v), "", 0)


def vif_fb(v):
    # extension table FB (VIF 0xFB, then this VIFE)
    if v < 2:
        return ("energy", "Wh", v + 5)  # 0.1 MWh, 1 MWh
    if 8 <= v < 10:
        return ("energy", "J", v)  # 0.1 GJ, 1 GJ
    if 0x10 <= v < 0x12:
        return ("volume", "m3", v - 0x0E)  # 100 m3, 1000 m3
    if 0x18 <= v < 0x1A:
        return ("mass", "kg", v - 0x13)  # 100 t, 1000 t
    if 0x28 <= v < 0x2A:
        return ("power", "W", v - 0x23)  # 0.1 MW, 1 MW
    if 0x30 <= v < 0x32:
        return ("power", "J/h", v - 0x30 + 8)  # 0.1 GJ/h, 1 GJ/h
    return ("FB VIFE 0x%02X" % v, "", 0)
