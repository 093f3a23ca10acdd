"""`nbkit meter decode` and the emulated meters (in-process, no pty)."""

from __future__ import annotations

import json
import time

import pytest

from host_tools.cli import main
from host_tools.meterbus import bus, cjt188, dlt645
from host_tools.meterbus.meters import Cjt188Meter, Dlt645Meter, Faults

# captured frames (sources in tests/firmware/meter_vectors.py)
CJT_CURRENT = (
    "FE FE 68 10 45 41 10 05 15 33 78 81 16 90 1F AA 00 59 59 00 2C"
    " FF FF FF FF 2C FF FF FF FF FF FF FF 00 00 C2 16"
)
CJT_BAD_CS = (
    "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C"
    " 00 77 66 55 2C 31 01 22 11 05 15 20 21 84 08 16"
)
DLT_FORWARD = "68 01 00 00 00 00 00 68 91 08 33 33 34 33 59 B3 55 44 DC 16"


def test_decode_explains_a_captured_water_meter_reply(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["meter", "decode", "cjt188", CJT_CURRENT]) == 0
    out = capsys.readouterr().out
    assert "78331505104145" in out
    assert "5959.00 m3" in out
    assert "0x901F current data (sent high byte first)" in out


def test_decode_json_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["meter", "decode", "dlt645", DLT_FORWARD, "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["address"] == "000000000001"
    assert fields["values"] == {"forward active energy total": "112280.26 kWh"}


@pytest.mark.parametrize(
    ("protocol", "frame", "message"),
    [
        ("cjt188", CJT_BAD_CS, "bad checksum: CS is 0x08, computed 0x13"),
        ("dlt645", DLT_FORWARD[:-3], "missing end byte 0x16"),
        ("dlt645", DLT_FORWARD[:-6], "truncated frame"),
        ("dlt645", DLT_FORWARD.replace("91 08", "91 09").replace("DC 16", "DD 16"), "bad length"),
        ("dlt645", "68 01 02 zz", "not a hex byte string"),
        ("cjt188", "FE FE FE", "no start byte 0x68"),
    ],
)
def test_decode_rejects_broken_frames_with_a_clear_message(
    protocol: str, frame: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["meter", "decode", protocol, frame]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert err.startswith("nbkit: ")


def _request(meter: Cjt188Meter, control: int, di: int, data: bytes = b"") -> cjt188.Frame:
    req = cjt188.encode(0xAA, cjt188.WILDCARD, control, di, 7, data)
    reply = meter.handle(req)
    assert reply is not None
    return cjt188.decode(reply, expect_di=di)


def test_emulated_water_meter_registers_and_valve() -> None:
    meter = Cjt188Meter(address="00000000004242", total=987654)
    assert _request(meter, cjt188.C_READ_ADDR, cjt188.DI_ADDRESS).address == "00000000004242"
    reading = cjt188.parse_current(_request(meter, cjt188.C_READ_DATA, cjt188.DI_CURRENT).data)
    assert (reading.total, reading.valve) == (987654, "open")
    _request(meter, cjt188.C_WRITE_DATA, cjt188.DI_VALVE, bytes([cjt188.VALVE_CLOSE]))
    assert meter.valve == "closed"
    unknown = _request(meter, cjt188.C_READ_DATA, 0x8102)
    assert unknown.is_abnormal()


def test_emulated_meter_stays_silent_for_another_address() -> None:
    req = cjt188.encode(0x10, "99999999999999", cjt188.C_READ_DATA, cjt188.DI_CURRENT, 1)
    assert Cjt188Meter().handle(req) is None


def test_emulated_electricity_meter_answers_discovery_and_energy() -> None:
    meter = Dlt645Meter(address="123456789012")
    meter.set("forward", 500)
    meter.set("reverse", 25)
    f = dlt645.decode(meter.handle(dlt645.encode(dlt645.WILDCARD, dlt645.C_READ_ADDR)) or b"")
    assert dlt645.address_str(f.data) == "123456789012"
    for di, value in ((dlt645.DI_FORWARD_ACTIVE, 500), (dlt645.DI_COMBINED_ACTIVE, 525)):
        req = dlt645.encode("123456789012", dlt645.C_READ, dlt645.di_bytes(di))
        f = dlt645.decode(meter.handle(req) or b"")
        assert dlt645.value_of(di, f.data[4:])[0] == value
    req = dlt645.encode("123456789012", dlt645.C_READ, dlt645.di_bytes(0x0401FFFF))
    f = dlt645.decode(meter.handle(req) or b"")
    assert f.is_abnormal() and f.data == b"\x02"


def test_faults_corrupt_the_line_as_asked() -> None:
    good = bytes.fromhex(DLT_FORWARD.replace(" ", ""))
    faults = Faults()
    faults.arm("bad_checksum", 1)
    with pytest.raises(bus.FrameError, match="bad checksum"):
        dlt645.decode(faults.apply(good) or b"")
    assert faults.apply(good) == good  # armed for one reply only
    faults.arm("no_reply")
    assert faults.apply(good) is None and faults.apply(good) is None
    faults.clear()
    faults.arm("garbage", 1)
    noisy = faults.apply(good) or b""
    kind, start, size = bus.scan(noisy, dlt645.LAYOUT)
    assert kind == bus.FRAME and noisy[start : start + size] == good
    with pytest.raises(ValueError, match="unknown fault"):
        faults.arm("meltdown")


def test_register_values_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown dlt645 register"):
        Dlt645Meter().set("colour", 1)
    with pytest.raises(ValueError, match="cannot be negative"):
        Dlt645Meter().set("forward", -1)
    with pytest.raises(ValueError):
        Cjt188Meter().set("valve", "ajar")


def test_water_meter_clock_follows_the_given_virtual_time() -> None:
    virtual = 1_900_000_000.0
    meter = Cjt188Meter(now=lambda: virtual)
    reading = cjt188.parse_current(_request(meter, cjt188.C_READ_DATA, cjt188.DI_CURRENT).data)
    t = time.localtime(virtual)
    assert reading.clock == (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def test_virtual_clock_option_is_validated() -> None:
    from host_tools.errors import CommandError
    from host_tools.meterbus.command import virtual_clock

    now = time.time()
    clock = virtual_clock(f"{now},1000,1")
    assert 1000 <= clock() < 1000 + 5
    with pytest.raises(CommandError, match="WALL_START,EPOCH,SCALE"):
        virtual_clock("soon")
    with pytest.raises(CommandError, match="SCALE 1"):  # the scaled-wall clock is gone
        virtual_clock(f"{now},1000,3600")
