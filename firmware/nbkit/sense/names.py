# Human-readable names of CJ/T 188 and DL/T 645 codes, for logs, the console and the host's
# `nbkit meter decode`. Kept apart from the codecs so a device that only reads meters does not
# hold these strings in RAM. Pure; the host imports this same file.

CJT_TYPE_NAMES = {
    0x10: "cold water",
    0x11: "hot water",
    0x12: "drinking water",
    0x13: "reclaimed water",
    0x20: "heat",
    0x21: "cooling",
    0x30: "gas",
    0x40: "electricity",
    0xAA: "any (wildcard)",
}

CJT_FUNCTION_NAMES = {
    0x01: "read data",
    0x03: "read address",
    0x04: "write data",
    0x09: "read key version",
    0x15: "write address",
    0x16: "write meter sync",
}

CJT_DI_NAMES = {
    0x901F: "current data",
    0x810A: "address",
    0x8102: "price table",
    0x8103: "settlement day",
    0x8104: "reading day",
    0x8105: "purchased amount",
    0x8106: "key version",
    0xA017: "valve control",
    0xA016: "meter sync",
    0xA018: "write address",
}
for _m in range(1, 13):
    CJT_DI_NAMES[0xD11F + _m] = "history month -%d" % _m

CJT_UNITS = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0A: "MWh*100",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x13: "GJ*100",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m3",
    0x32: "L/h",
    0x35: "m3/h",
}

DLT_FUNCTION_NAMES = {
    0x08: "broadcast time",
    0x11: "read data",
    0x12: "read follow-up",
    0x13: "read address",
    0x14: "write data",
    0x16: "freeze",
    0x17: "change baud rate",
    0x18: "change password",
    0x1C: "relay control",
}


def unit_name(code):
    return CJT_UNITS.get(code, "unit 0x%02X" % code)
