"""One registry of modem models (firmware/nbkit/modem/models.py) read by every consumer: board
validation, emulator personas, energy profiles, the rig's virtual boards and the CLI choices."""

from __future__ import annotations

import pytest
from nbkit.modem import models

from host_tools.device import boards
from host_tools.emulator.persona import PERSONAS
from host_tools.energy import model as energy
from host_tools.rig import demo
from host_tools.rig.rig import BOARD_FOR_MODEM


def test_boards_accept_exactly_the_registry_models() -> None:
    assert boards.MODEM_MODELS == models.names()
    for name in boards.board_names():
        assert boards.load(name)["modem"]["model"] in models.names(), name


def test_every_persona_is_a_registry_model_of_the_same_family() -> None:
    for name, persona in PERSONAS.items():
        want = "quectel" if models.family(name) == models.QI else "huawei"
        assert persona.family == want, name


def test_energy_profiles_and_virtual_boards_are_registry_models() -> None:
    assert set(energy.profile_names()) <= set(models.names())
    assert set(BOARD_FOR_MODEM) <= set(models.names())
    assert BOARD_FOR_MODEM["bc660k"] == "unix_sim_bc660k"


def test_the_demo_offers_only_what_the_registry_says_a_model_carries() -> None:
    for transport, modems in demo.MODEM_FOR.items():
        for name in modems:
            assert transport in models.transports(name), (transport, name)
            assert name in PERSONAS and name in BOARD_FOR_MODEM, name


def test_an_unknown_model_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="bc660k"):
        models.family("bc99")
    with pytest.raises(ValueError, match="unknown modem model"):
        models.entry(None)
