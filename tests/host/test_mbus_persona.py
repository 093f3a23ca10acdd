"""The M-Bus emulator persona answers like an EN 13757-2 slave: addressing, FCB, telegrams."""

from __future__ import annotations

import pytest

from host_tools.errors import CommandError
from host_tools.meterbus import mbus, mbus_data
from host_tools.meterbus.command import build_meter, configure
from host_tools.meterbus.persona_mbus import Persona


def _read(meter: Persona, a: int, fcb: bool) -> mbus_data.Telegram:
    reply = meter.handle(mbus.req_ud2(a, fcb))
    assert reply is not None
    frame = mbus.decode(reply)
    assert frame.is_rsp_ud() and frame.a == meter.primary
    return mbus_data.parse(frame)


def test_primary_test_and_broadcast_addresses() -> None:
    meter = Persona(address=5)
    assert meter.handle(mbus.snd_nke(5)) == b"\xe5"
    assert meter.handle(mbus.snd_nke(6)) is None  # another slave's address
    assert meter.handle(mbus.snd_nke(0xFF)) is None  # broadcast: obeyed, never answered
    assert meter.handle(mbus.req_ud2(0xFF, True)) is None
    assert meter.handle(mbus.req_ud2(0xFD, True)) is None  # not selected
    t = _read(meter, 0xFE, True)
    assert t.header is not None and t.header.ident == "12345678" and t.header.man == "NBK"


def test_two_telegrams_fcb_toggle_advances_and_a_repeat_resends() -> None:
    meter = Persona(address=5)
    meter.set("energy", 2_345_600)
    meter.handle(mbus.snd_nke(5))
    first = meter.handle(mbus.req_ud2(5, True))
    assert meter.handle(mbus.req_ud2(5, True)) == first  # same FCB: the reply was lost
    t1 = mbus_data.parse(mbus.decode(first or b""))
    assert t1.more and t1.records[0].scaled(0) == 2_345_600
    t2 = _read(meter, 5, False)
    assert not t2.more and t2.mdata == b"\x01\x02\x03"
    assert {r.storage for r in t2.records} == {0, 1}
    assert any(r.tariff == 1 for r in t2.records)
    assert _read(meter, 5, True).more  # the next readout starts again
    meter.handle(mbus.snd_nke(5))
    assert _read(meter, 5, False).more  # SND_NKE restarts at the first telegram


def test_secondary_selection_with_wildcards() -> None:
    meter = Persona(address=5, ident="87654321", medium=0x07)
    assert meter.handle(mbus.selection("8765FFFF")) == b"\xe5"
    assert meter.selected
    assert _read(meter, 0xFD, True).header.medium == 0x07  # type: ignore[union-attr]
    assert meter.handle(mbus.selection("FFFFFFFF", medium=0x04)) is None  # a heat meter wanted
    assert not meter.selected
    assert meter.handle(mbus.req_ud2(0xFD, False)) is None
    meter.handle(mbus.selection("87654321"))
    assert meter.handle(mbus.snd_nke(0xFD)) == b"\xe5" and not meter.selected


def _args(*argv: str) -> object:
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(["--protocol", "mbus", *argv])


def test_command_line_builds_the_persona_and_rejects_bad_registers() -> None:
    meter = build_meter(_args("--address", "9", "--ident", "11112222", "--set", "volume=5"))  # type: ignore[arg-type]
    state = meter.state()
    assert (state["address"], state["ident"], state["volume"]) == (9, "11112222", 5)
    with pytest.raises(CommandError, match="unknown mbus register"):
        build_meter(_args("--set", "voltage=1"))  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="0-250"):
        build_meter(_args("--address", "251"))  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="heat, water or hot-water"):
        build_meter(_args("--meter-type", "gas"))  # type: ignore[arg-type]
