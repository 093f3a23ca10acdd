# Bus meters of the gas-cjt188 / electricity-dlt645 profiles (nbkit.app.busmeter) on virtual
# time: a meter answering through the real codecs (as `nbkit meterbus` does), discovery once,
# records in the payload's units, and a silent or refusing meter becoming a METER_ERROR record.
from nbkit.app import busmeter
from nbkit.hal.clock import ManualClock
from nbkit.proto import codes
from nbkit.sense import bus, cjt188, dlt645

GAS_ADDR = "12345678901234"
ELEC_ADDR = "000000000001"


class MeterLine:
    # A meter on the other end of the UART: decodes each request with the codec and answers
    # like the meter (or stays silent / answers abnormally when told to).
    def __init__(self, clock, answer):
        self.clock = clock
        self.answer = answer  # request bytes -> reply bytes or None
        self.pending = b""
        self.requests = []

    def write(self, data):
        req = bytes(data).lstrip(b"\xfe")
        self.requests.append(req)
        self.pending += self.answer(req) or b""
        return len(data)

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def wait(self, timeout_ms):
        if self.pending:
            return True
        self.clock.advance(timeout_ms)
        return False

    def close(self):
        pass


def _gas(total=123456, valve_status=0, abnormal=False, silent=False):
    def answer(req):
        if silent:
            return None
        f = cjt188.decode(req)
        if f.control == cjt188.C_READ_ADDR:
            return cjt188.encode(0x30, GAS_ADDR, 0x83, cjt188.DI_ADDRESS, f.ser)
        if abnormal:
            return cjt188.encode(0x30, GAS_ADDR, 0xC1, cjt188.DI_CURRENT, f.ser, b"\x00\x04")
        data = cjt188.current_data(total, status=valve_status)
        return cjt188.encode(0x30, GAS_ADDR, 0x81, cjt188.DI_CURRENT, f.ser, data)

    return answer


def _elec(values):
    def answer(req):
        f = dlt645.decode(req)
        if f.control == dlt645.C_READ_ADDR:
            return dlt645.encode(ELEC_ADDR, 0x93, dlt645.address_bytes(ELEC_ADDR, 6))
        di = dlt645.di_of(f.data)
        body = dlt645.di_bytes(di) + dlt645.encode_value(di, values[di])
        return dlt645.encode(ELEC_ADDR, 0x91, body)

    return answer


def test_gas_meter_is_found_once_then_read_in_litres_with_its_valve():
    clock = ManualClock()
    line = MeterLine(clock, _gas(total=123456, valve_status=1))  # 1234.56 m3, valve closed
    meter = busmeter.Cjt188Meter(line, clock)
    assert meter.read() == [(codes.GAS_L, 1234560), (codes.VALVE, 1)], line.requests
    assert [r[9] for r in line.requests] == [cjt188.C_READ_ADDR, cjt188.C_READ_DATA]
    # the next wake (new process) restores the address: no discovery any more
    again = busmeter.Cjt188Meter(MeterLine(clock, _gas(total=123457)), clock)
    again.restore(meter.state())
    assert again.read()[0] == (codes.GAS_L, 1234570)
    assert [r[9] for r in again.meter.link.transport.requests] == [cjt188.C_READ_DATA]


def test_a_silent_meter_is_a_meter_error_record_not_a_crash():
    clock = ManualClock()
    meter = busmeter.Cjt188Meter(MeterLine(clock, _gas(silent=True)), clock)
    assert meter.read() == [(codes.METER_ERROR, busmeter.NO_REPLY)]
    assert meter.errors == 1


def test_an_abnormal_reply_is_a_meter_error_record():
    clock = ManualClock()
    meter = busmeter.Cjt188Meter(MeterLine(clock, _gas(abnormal=True)), clock)
    assert meter.read() == [(codes.METER_ERROR, busmeter.ABNORMAL)]


def test_litres_from_the_meter_units():
    assert busmeter.to_litres(123456, 0x2C) == 1234560  # 0.01 m3 steps
    assert busmeter.to_litres(123456, 0x29) == 1234  # 0.01 L steps
    assert busmeter.to_litres(None, 0x2C) is None  # FF: the meter has no value
    assert busmeter.to_litres(5, 0x05) is None  # kWh is not a volume


def test_electricity_meter_energy_in_wh():
    clock = ManualClock()
    values = {
        dlt645.DI_COMBINED_ACTIVE: 1235457,
        dlt645.DI_FORWARD_ACTIVE: 1234567,  # 12345.67 kWh
        dlt645.DI_REVERSE_ACTIVE: 890,
    }
    meter = busmeter.Dlt645Meter(MeterLine(clock, _elec(values)), clock)
    got = meter.read()
    assert got == [
        (codes.ENERGY_WH, 12354570),
        (codes.ENERGY_FWD_WH, 12345670),
        (codes.ENERGY_REV_WH, 8900),
    ], got
    assert meter.state() == (ELEC_ADDR,)


def test_bus_timeouts_are_bounded_on_virtual_time():
    clock = ManualClock()
    meter = busmeter.Dlt645Meter(MeterLine(clock, lambda req: None), clock)
    t0 = clock.ticks_ms()
    assert meter.read() == [(codes.METER_ERROR, busmeter.NO_REPLY)]
    spent = clock.ticks_diff(clock.ticks_ms(), t0)
    assert spent <= 3 * 1500, spent  # three attempts of the bus timeout, then give up
    assert isinstance(bus.MeterTimeout("x"), OSError)
