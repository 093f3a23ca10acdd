"""The one set of timing defaults shared by the energy model and the modem emulator.

``synth`` builds its synthetic timelines from :class:`Timing`; the emulator's
``NetworkConfig``/``ModemOptions`` take their defaults from :data:`DEFAULT` (registration after
``attach_s[ce]``, RRC release after ``rrc_inactivity_s`` or ``rai_release_s``, RRC setup before the
first uplink of a wake, air time ``tx_s()``, boot ``boot_s``, paging every ``drx_cycle_s``), so a
recorded emulator timeline and a synthetic one describe the same modem. Every default names its
source in :data:`SOURCES`; "assumption" marks an estimate to replace with a measurement.

Not modelled by the emulator (they come from the real exchange there): ``reply_wait_s`` (the ack
comes when the peer answers), ``detach_s`` (AT+CFUN=0 switches off at once), ``t3324_s`` and
``t3412_s`` (the emulator uses what the network grants).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: IPv4 + UDP headers added to every payload on the air (no header compression)
IP_UDP_OVERHEAD_BYTES = 28


@dataclass(frozen=True)
class Timing:
    """Timing model in seconds; per-CE values are tuples for CE0, CE1, CE2."""

    rrc_inactivity_s: float = 20.0
    rai_release_s: float = 1.5
    t3324_s: float = 10.0
    t3412_s: float = 70 * 3600.0
    boot_s: float = 3.0
    attach_s: tuple[float, float, float] = (30.0, 45.0, 66.0)
    camp_s: tuple[float, float, float] = (5.0, 10.0, 20.0)
    rrc_setup_s: tuple[float, float, float] = (0.5, 1.5, 4.0)
    tx_base_s: tuple[float, float, float] = (0.2, 0.8, 4.0)
    tx_per_byte_s: tuple[float, float, float] = (0.0005, 0.004, 0.032)
    reply_wait_s: tuple[float, float, float] = (1.0, 2.0, 6.0)
    detach_s: float = 2.0
    drx_cycle_s: float = 1.28

    def tx_s(self, payload: int, ce: int) -> float:
        """Air time of one uplink of ``payload`` application bytes at coverage ``ce``."""
        return self.tx_base_s[ce] + (payload + IP_UDP_OVERHEAD_BYTES) * self.tx_per_byte_s[ce]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: where each default comes from (power-and-meters.md / at-modems.md are the project reference)
SOURCES: dict[str, str] = {
    "rrc_inactivity_s": "at-modems.md 7: +CSCON:0 ~20 s after the last traffic (driver "
    "checklist); power-and-meters.md 2.2: 'typical ~10-20 s' [M]. Set by the operator.",
    "rai_release_s": "at-modems.md 7 / power-and-meters.md 1.5: +CSCON:0 ~1-2 s after NSOSTF "
    "0x200 (or after the reply with 0x400) [seen in drivers, not measured here]",
    "t3324_s": "request default: AT+CPSMS example '00000101' = 10 s (at-modems.md 2.1); the "
    "network grants its own value",
    "t3412_s": "request default: BC28 sample '01000111' = 70 h (power-and-meters.md 1.5)",
    "boot_s": "assumption: power-up to the first OK (no BC95 figure found; drivers wait up to "
    "10 s + 30 s, at-modems.md 7)",
    "attach_s": "assumption: cell search + attach 'tens of seconds' (power-and-meters.md 2.2); "
    "CE2 = the 66 s BG770A attach measurement (SeeedJP wiki, power-and-meters.md 2.1) [S]",
    "camp_s": "assumption: the part of attach_s until the UE camps on the cell (NPSS/NSSS sync, "
    "MIB-NB every 640 ms, SIB1-NB every 2.56 s, more repetitions in deeper coverage); from "
    "then on AT+CSQ reports the cell's RSSI (at-modems.md: 99 = unknown) while the attach "
    "signalling goes on",
    "rrc_setup_s": "assumption: random access + RRC connection setup after a PSM/idle wake",
    "tx_base_s": "assumption: fixed air time of one uplink; grows with CE repetitions",
    "tx_per_byte_s": "assumption: ~16 / 2 / 0.25 kbit/s effective with CE0/1/2 repetitions",
    "reply_wait_s": "assumption: connected while the application ack comes back",
    "detach_s": "assumption: detach signalling of AT+CFUN=0 before the radio is off",
    "drx_cycle_s": "idle DRX 1.28 s: CMCC M5311 (BC95 class) figure, M5Stack module page "
    "(power-and-meters.md 2.1) [S]",
}

DEFAULT = Timing()
