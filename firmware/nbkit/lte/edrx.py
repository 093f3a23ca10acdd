# eDRX: AT+CEDRXS / AT+NPTWEDRXS builders, +CEDRXP URC and AT+CEDRXRDP response parsers.
# Pure: no I/O. Bits are the 4-bit strings of nbkit.lte.timers; AcT 5 = NB-S1, 4 = WB-S1.
from nbkit.lte import timers
from nbkit.lte.fields import int_field, split_fields, text

MODE_OFF = 0
MODE_ON = 1
MODE_ON_URC = 2  # on, with +CEDRXP URCs
MODE_OFF_RESET = 3
CEDRXRDP = "AT+CEDRXRDP"


# AT+CEDRXS=<mode>,<AcT>,"<eDRX 4 bits>", e.g. AT+CEDRXS=2,5,"0101"
def cedrxs_cmd(edrx_bits, act=timers.ACT_NB_S1, mode=MODE_ON_URC):
    timers.decode_edrx_ms(edrx_bits, act)
    return 'AT+CEDRXS=%d,%d,"%s"' % (mode, act, edrx_bits)


# AT+CEDRXS=0,<AcT>: eDRX off
def cedrxs_off(act=timers.ACT_NB_S1):
    return "AT+CEDRXS=%d,%d" % (MODE_OFF, act)


# cycle in seconds -> (command, obtained ms), rounded up to a value valid for the AcT
def request(cycle_s, act=timers.ACT_NB_S1, mode=MODE_ON_URC):
    bits, got = timers.encode_edrx(cycle_s, act)
    return cedrxs_cmd(bits, act, mode), got


# AT+NPTWEDRXS=<mode>,<AcT>,"<PTW 4 bits>","<eDRX 4 bits>" (Huawei BC95/BC28: sets PTW too)
def nptwedrxs_cmd(ptw_bits, edrx_bits, act=timers.ACT_NB_S1, mode=MODE_ON_URC):
    timers.decode_ptw_ms(ptw_bits, act)
    timers.decode_edrx_ms(edrx_bits, act)
    return 'AT+NPTWEDRXS=%d,%d,"%s","%s"' % (mode, act, ptw_bits, edrx_bits)


# (cycle s, PTW s) -> (command, cycle obtained ms, PTW obtained ms)
def request_with_ptw(cycle_s, ptw_s, act=timers.ACT_NB_S1, mode=MODE_ON_URC):
    edrx_bits, cycle_ms = timers.encode_edrx(cycle_s, act)
    ptw_bits, ptw_ms = timers.encode_ptw(ptw_s, act)
    return nptwedrxs_cmd(ptw_bits, edrx_bits, act, mode), cycle_ms, ptw_ms


def _parse(line, prefix):
    f = split_fields(line, prefix)
    act = int_field(f, 0, prefix)
    req, nw, ptw = text(f, 1), text(f, 2), text(f, 3)
    for bits in (req, nw, ptw):
        if bits is not None and (len(bits) != 4 or bits.strip("01")):
            raise ValueError("%s: %r is not a 4-bit string" % (prefix, bits))
    return act, req, nw, ptw


# +CEDRXP: <AcT-type>[,<Requested_eDRX_value>[,<NW-provided_eDRX_value>[,<Paging_time_window>]]]
# e.g. +CEDRXP: 5,"0101","0101","0011" -> (5, "0101", "0101", "0011"); absent fields -> None
def parse_cedrxp(line):
    return _parse(line, "+CEDRXP:")


# +CEDRXRDP: <AcT-type>[,<Requested_eDRX_value>[,<NW-provided_eDRX_value>[,<Paging_time_window>]]]
# AcT 0: the cell does not use eDRX. Same tuple as parse_cedrxp.
def parse_cedrxrdp(line):
    return _parse(line, "+CEDRXRDP:")


# What the network granted, from a parsed +CEDRXP/+CEDRXRDP: (cycle ms, PTW ms or None), or
# None when eDRX is not in use (AcT 0, no network value, or a value the AcT does not allow).
def granted(parsed):
    act, _req, nw, ptw = parsed
    if act not in (timers.ACT_NB_S1, timers.ACT_WB_S1) or nw is None:
        return None
    cycle = timers.decode_edrx_ms(nw, act)
    if cycle is None:
        return None
    return cycle, (timers.decode_ptw_ms(ptw, act) if ptw is not None else None)
