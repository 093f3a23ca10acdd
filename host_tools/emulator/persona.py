"""What differs between the emulated modules (Huawei-firmware BC95 vs BC95-G/BC28 class).

Every persona is a model of the firmware's modem registry (``nbkit.modem.models``), which also
says its family: the Huawei personas run :class:`~host_tools.emulator.modem.Modem`, the QI ones
:class:`~host_tools.emulator.quectel.QuectelModem` (or the subclass ``modem_class`` names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbkit.modem import models


def _family(model: str) -> str:
    """The emulator family of a registry model: "quectel" (QI stack) or "huawei"."""
    return "quectel" if models.family(model) == models.QI else "huawei"


@dataclass(frozen=True)
class Persona:
    """Module identity and limits.

    ``bc95`` is the original BC95 (B656-era firmware): 512-byte datagrams, single band and only
    the ``+NSONMI:<socket>,<length>`` indication (``AT+NSONMI=`` is not supported).
    ``bc28`` (and BC95-G) firmware: 1358-byte datagrams, multi-band, NSONMI modes 0-3.
    """

    name: str
    max_payload: int
    nsonmi_modes: bool
    bands: tuple[int, ...]
    default_bands: tuple[int, ...]
    cgmr: tuple[str, ...]
    #: "huawei" (AT+N... commands, no space after the colon) or "quectel" (AT+QI.../AT+QMT...,
    #: host_tools.emulator.quectel); act = the AcT reported in +CEREG/+CGREG/+CREG
    family: str = "huawei"
    act: int = 9
    #: PDP context ids AT+QIOPEN accepts (lo, hi); on NB-IoT the first one is the default
    #: bearer that comes with the attach (BC26: 1, BC660K: 0)
    contexts: tuple[int, int] = (1, 15)
    #: text before the revision in the AT+CGMR answer ("Revision: " on BC660K)
    cgmr_prefix: str = ""
    #: "module:Class" of a QuectelModem subclass for this persona ("" = QuectelModem / Modem)
    modem_class: str = ""
    #: first line of the ATI answer on the Quectel personas
    vendor: str = "Quectel"
    nconfig: tuple[tuple[str, str], ...] = field(
        default=(
            ("AUTOCONNECT", "TRUE"),
            ("CR_0354_0338_SCRAMBLING", "TRUE"),
            ("CR_0859_SI_AVOID", "TRUE"),
            ("COMBINE_ATTACH", "FALSE"),
            ("CELL_RESELECTION", "FALSE"),
            ("ENABLE_BIP", "FALSE"),
        )
    )


PERSONAS: dict[str, Persona] = {
    "bc95": Persona(
        name="BC95",
        max_payload=512,
        nsonmi_modes=False,
        bands=(8,),
        default_bands=(8,),
        cgmr=(
            "SECURITY,V100R100C10B656",
            "PROTOCOL,V100R100C10B656",
            "APPLICATION,V100R100C10B656",
            "SEC_UPDATER,V100R100C10B656",
            "APP_UPDATER,V100R100C10B656",
            "RADIO,BC95HB-02-STD_900",
        ),
    ),
    "bc28": Persona(
        name="BC28",
        max_payload=1358,
        nsonmi_modes=True,
        bands=(1, 3, 5, 8, 20, 28),
        default_bands=(5, 8, 3, 28, 20, 1),
        cgmr=(
            "SSB,V150R100C10B200SP1",
            "SECURITY_A,V150R100C20B300SP2",
            "PROTOCOL_A,V150R100C20B300SP2",
            "APPLICATION_A,V150R100C20B300SP2",
            "SECURITY_B,V150R100C20B300SP2",
            "RADIO,Hi2115_RF1",
        ),
    ),
    # LTE Cat1 (Unisoc/ASR firmware): QI sockets with binary QISEND, AT+QMT MQTT, AcT 7
    "ec200": Persona(
        name="EC200U",
        max_payload=1460,
        nsonmi_modes=False,
        bands=(1, 3, 5, 8, 34, 38, 39, 40, 41),
        default_bands=(1, 3, 5, 8, 34, 38, 39, 40, 41),
        cgmr=("EC200UCNAAR02A11M08",),
        family=_family("ec200"),
        act=7,
    ),
    # NB-IoT on MediaTek firmware: the same QI/QMT command families, AcT 9
    "bc26": Persona(
        name="BC26",
        max_payload=1024,
        nsonmi_modes=False,
        bands=(1, 3, 5, 8, 20, 28),
        default_bands=(1, 3, 5, 8, 20, 28),
        cgmr=("BC26NBR01A10",),
        family=_family("bc26"),
        act=9,
    ),
    # Quectel BC660K-GL (NB-IoT Rel-14): QI sockets on context 0, CPSMS, QSCLK deep sleep with
    # +QATWAKEUP, +QNBIOTEVENT; host_tools.emulator.bc660k. Identity lines as a real module
    # answers them (markbac/quectel-bc660k-dashboard tests/transcripts/bc660k_real_2026-10-03)
    "bc660k": Persona(
        name="Quectel_BC660K-GL",
        max_payload=1024,
        nsonmi_modes=False,
        bands=(1, 2, 3, 4, 5, 8, 12, 13, 17, 18, 19, 20, 25, 28, 66, 85),
        default_bands=(1, 3, 5, 8, 20, 28),
        cgmr=("BC660KGLAAR01A05",),
        family=_family("bc660k"),
        act=9,
        contexts=(0, 0),
        cgmr_prefix="Revision: ",
        modem_class="host_tools.emulator.bc660k:Bc660kModem",
        vendor="Quectel_Ltd",
    ),
}
