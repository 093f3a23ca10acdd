# Record codes carried in frames: one byte per record says what its value means.
# Measurements 0x01-0x3F are periodic readings; events 0x40-0x7F happen when something occurs.
# Values are signed 32-bit integers in the unit named here (no floats on the wire).
# Shared by firmware and host: append new codes, never renumber (old frames must keep meaning).
try:
    from micropython import const
except ImportError:  # CPython on the host

    def const(x):  # type: ignore[misc]
        return x


# -- measurements ------------------------------------------------------------ value unit
WATER_L = const(0x01)  # cumulative water volume index, litres
GAS_L = const(0x02)  # cumulative gas volume index, litres (dm3)
ENERGY_WH = const(0x03)  # cumulative energy index, Wh
FLOW_LPH = const(0x04)  # instantaneous flow, litres per hour
TEMP_CC = const(0x05)  # temperature, 0.01 degC
ENERGY_FWD_WH = const(0x06)  # cumulative forward (imported) active energy, Wh
ENERGY_REV_WH = const(0x07)  # cumulative reverse (exported) active energy, Wh
WATER_REV_L = const(0x08)  # cumulative reverse-flow water volume register, litres
TEMP_RETURN_CC = const(0x09)  # heat meter return (cold side) temperature, 0.01 degC
BATTERY_MV = const(0x10)  # battery voltage, mV
RSRP_DBM = const(0x11)  # signal: reference signal received power, dBm (negative)
SNR_DB = const(0x12)  # signal-to-noise ratio, dB
CE_LEVEL = const(0x13)  # NB-IoT coverage enhancement level, 0..2
VALVE = const(0x14)  # meter valve state: 0 open, 1 closed, 2 unknown, 3 abnormal
# -- meter events -------------------------------------------------------------
LEAK = const(0x40)  # continuous flow suspected: 1 begins, 0 ends
BURST = const(0x41)  # flow above burst threshold: flow in litres per hour; 0 ends
TAMPER = const(0x42)  # magnet tamper: 1 field sensor, 2 both sensors at once; 0 cleared
REVERSE_FLOW = const(0x43)  # backward flow seen: reverse register, litres; 0 ends
NO_FLOW = const(0x44)  # no pulse for days (stuck meter, valve shut): hours; 0 flow resumed
# -- smoke sensor events ------------------------------------------------------
SMOKE_ALARM = const(0x50)  # alarm raised: obscuration, 0.01 %/m
SMOKE_CLEAR = const(0x51)  # alarm ended: 0
SMOKE_HUSH = const(0x52)  # alarm silenced by the user: hush seconds
SMOKE_SELFTEST = const(0x53)  # self test run: 1 passed, 0 failed, 2 passed on a low battery
SMOKE_FAULT = const(0x54)  # chamber/sounder fault: fault code
LOW_BATTERY = const(0x55)  # battery below threshold: mV
REMOVED = const(0x56)  # detector removed from its base: 1 removed, 0 refitted
HEARTBEAT = const(0x57)  # periodic sign of life: seconds since boot
SMOKE_HUSH_END = const(0x58)  # hush over: 1 timed out, 0 ended by denser smoke
BATTERY_OK = const(0x59)  # battery back above threshold + hysteresis: mV
SMOKE_FAULT_CLEAR = const(0x5A)  # chamber fault cleared: chamber reading
# -- device events ------------------------------------------------------------
QUEUE_DROPPED = const(0x60)  # durable queue was full: cumulative count of dropped records
BOOT = const(0x61)  # device started: reset cause
TIME_SET = const(0x62)  # RTC stepped: seconds of correction
METER_ERROR = const(0x63)  # meter bus read failed: 1 no reply, 2 abnormal reply, 3 bad frame
REPORT_FAILED = const(0x64)  # failed report attempts, cumulative (sent once a link comes up)
REPORT_FAULT = const(0x65)  # why the last report failed: 1 CME, 2 no coverage, 3 modem reboot,
# 4 no ack, 5 collector refusal, 6 crash (the board was reset by the app's last resort)
UPLINK_RESENT = const(0x66)  # frames sent again after a modem reboot, cumulative (duplicates)

# code -> name and unit, for people and the collector's database; unknown codes stay numeric.
# One line per code: "<code, 2 hex digits> <name> [<unit>]". A text, not a dict: on a board it
# stays in the firmware's flash, where a dict of tuples would take heap at every wake.
TABLE = """
01 water L
02 gas L
03 energy Wh
04 flow L/h
05 temperature 0.01C
06 energy_forward Wh
07 energy_reverse Wh
08 water_reverse L
09 temperature_return 0.01C
10 battery mV
11 rsrp dBm
12 snr dB
13 ce_level
14 valve
40 leak
41 burst L/h
42 tamper
43 reverse_flow L
44 no_flow h
50 smoke_alarm 0.01%/m
51 smoke_clear
52 smoke_hush s
53 smoke_selftest
54 smoke_fault
55 low_battery mV
56 removed
57 heartbeat s
58 smoke_hush_end
59 battery_ok mV
5a smoke_fault_clear
60 queue_dropped
61 boot
62 time_set s
63 meter_error
64 report_failed
65 report_fault
66 uplink_resent
"""


def _entry(code):
    # -> [name] or [name, unit] of a known code, else None
    at = TABLE.find("\n%02x " % code) if 0 <= code <= 0xFF else -1
    if at < 0:
        return None
    return TABLE[at + 4 : TABLE.index("\n", at + 4)].split(" ")


def name(code):
    # Short name of a code ("water"), or "code_0x7e" for one this build does not know.
    entry = _entry(code)
    return entry[0] if entry else "code_0x%02x" % code


def unit(code):
    entry = _entry(code)
    return entry[1] if entry and len(entry) > 1 else ""


def is_event(code):
    return code >= 0x40
