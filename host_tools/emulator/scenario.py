"""Fault-injection scenarios for ``nbkit emulate --scenario FILE`` (JSON or TOML).

A scenario is a list of faults under the key ``faults`` (TOML: ``[[faults]]`` tables). Each
fault has a ``kind`` and a trigger: ``match`` (+ ``nth``, ``times``) fires on commands, ``at``
(virtual seconds after the emulator started) fires once on the clock. Commands are matched by
prefix against their normalised text: upper case, no spaces, ``AT`` + body, one command of a
concatenated line at a time (``"AT+NSOST="`` matches ``at+nsost= 0,...`` but not NSOSTF).

Command faults (``match`` required; ``nth`` = first matching command hit, 1-based, default 1;
``times`` = how many consecutive matches from there, default 1; ``until`` = only before this
many virtual seconds after the start, e.g. a send refused for the first 6 hours):

=================  ============================================================================
``error``          answer without executing: ``+CME ERROR: <cme>`` when CMEE=1 and ``cme`` is
                   given, else ``ERROR``
``drop``           execute, send no response (the echo still comes)
``delay``          execute, send the response ``seconds`` (virtual) later
``garbage``        execute, send ``hex`` bytes right before the response
``split``          execute, send the response in two writes split at byte ``at_byte`` (default:
                   the middle) with ``pause`` virtual seconds between them (default 0.2)
``urc_before_ok``  execute, put the URC line ``urc`` between the response and its OK
``reboot``         do not answer; the modem resets (banner with ``cause``, default
                   ``REBOOT_CAUSE_APPLICATION_WATCHDOG``) as if it crashed mid-command
=================  ============================================================================

Clock faults (``at`` required):

=================  ============================================================================
``coverage_loss``  lose coverage for ``duration`` s: ``+CEREG`` ``stat`` (2 searching, default,
                   or 0), RRC dropped, sends fail with CME 30; then registered again
``deny_psm``       from now on the network grants no PSM (for ``duration`` s, default forever)
``uplink_busy``    the next ``sends`` NSOST/NSOSTF answer ``+CME ERROR: 159``
``ce_level``       coverage enhancement level becomes ``level`` (0-2)
``garbage``        write ``hex`` bytes to the UART
``urc``            write the URC line ``urc``
``reboot``         the modem resets with ``cause``
``pdpdeact``       (ec200/bc26) the network drops PDP context 1: ``+QIURC: "pdpdeact",1``,
                   its sockets die, MQTT clients report ``+QMTSTAT: <id>,7``
``server_down``    the server (collector) is down for ``duration`` s (default: for good): the
                   NSO socket datagrams the modem transmits are lost past the radio
``duplicate_downlinks``  every downlink datagram reaches the UE twice, for ``duration`` s
``delay_downlinks``      downlink datagrams reach the UE ``seconds`` late (an ack later than
                   the device waits for it), for ``duration`` s
``reorder_downlinks``    each downlink datagram is overtaken: a late copy of the one the same
                   server sent before it reaches the UE first (an older ack out of order),
                   the newer one ``seconds`` (default 0) later, for ``duration`` s
=================  ============================================================================

Example (TOML)::

    [[faults]]
    kind = "error"
    match = "AT+NSOST="
    nth = 2
    cme = 159

    [[faults]]
    kind = "coverage_loss"
    at = 120
    duration = 60

The same in JSON: ``{"faults": [{"kind": "error", "match": "AT+NSOST=", "nth": 2, "cme": 159},
{"kind": "coverage_loss", "at": 120, "duration": 60}]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from host_tools.emulator.atparse import normalise
from host_tools.errors import CommandError

COMMAND_KINDS = {"error", "drop", "delay", "garbage", "split", "urc_before_ok", "reboot"}
CLOCK_KINDS = {
    "coverage_loss",
    "deny_psm",
    "uplink_busy",
    "ce_level",
    "garbage",
    "urc",
    "reboot",
    "pdpdeact",
    "server_down",
    "duplicate_downlinks",
    "delay_downlinks",
    "reorder_downlinks",
}
#: kind -> {parameter: (type, required)}
_PARAMS: dict[str, dict[str, tuple[type, bool]]] = {
    "error": {"cme": (int, False)},
    "drop": {},
    "delay": {"seconds": (float, True)},
    "garbage": {"hex": (str, True)},
    "split": {"at_byte": (int, False), "pause": (float, False)},
    "urc_before_ok": {"urc": (str, True)},
    "reboot": {"cause": (str, False)},
    "coverage_loss": {"duration": (float, True), "stat": (int, False)},
    "deny_psm": {"duration": (float, False)},
    "uplink_busy": {"sends": (int, True)},
    "ce_level": {"level": (int, True)},
    "urc": {"urc": (str, True)},
    "pdpdeact": {},
    "server_down": {"duration": (float, False)},
    "duplicate_downlinks": {"duration": (float, False)},
    "delay_downlinks": {"seconds": (float, True), "duration": (float, False)},
    "reorder_downlinks": {"seconds": (float, False), "duration": (float, False)},
}
_TRIGGER_KEYS = {"kind", "match", "nth", "times", "at", "until"}


@dataclass
class Fault:
    """One validated fault; ``params`` holds the kind-specific values."""

    kind: str
    match: str | None = None
    nth: int = 1
    times: int = 1
    at: float | None = None
    until: float | None = None  # command faults: only before this (virtual s after start)
    params: dict[str, Any] = field(default_factory=dict)
    seen: int = 0  # matching commands counted so far
    fired: int = 0  # how often it took effect

    def hits(self, command_text: str, elapsed: float = 0.0) -> bool:
        """Count a command; True when this occurrence is one the fault applies to.
        ``elapsed``: virtual seconds since the emulator started (for ``until``)."""
        if self.match is None or not command_text.startswith(self.match):
            return False
        if self.until is not None and elapsed >= self.until:
            return False
        self.seen += 1
        if self.nth <= self.seen < self.nth + self.times:
            self.fired += 1
            return True
        return False

    def garbage_bytes(self) -> bytes:
        """The ``hex`` parameter as bytes."""
        return bytes.fromhex(self.params["hex"])


@dataclass
class Scenario:
    """All faults of one file; command faults are checked in file order."""

    faults: list[Fault] = field(default_factory=list)

    @property
    def command_faults(self) -> list[Fault]:
        return [f for f in self.faults if f.match is not None]

    @property
    def clock_faults(self) -> list[Fault]:
        return [f for f in self.faults if f.at is not None]

    def for_command(self, command_text: str, elapsed: float = 0.0) -> list[Fault]:
        """The faults that apply to this command (each matching fault counts it)."""
        return [f for f in self.command_faults if f.hits(command_text, elapsed)]


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; :class:`CommandError` says what is wrong where."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read scenario {p}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"scenario {p} is not valid {p.suffix[1:] or 'JSON'}: {exc}") from None
    return parse(data, str(p))


def parse(data: Any, where: str = "scenario") -> Scenario:
    """Validate already-decoded scenario data (a dict with a ``faults`` list)."""
    if not isinstance(data, dict) or not isinstance(data.get("faults", []), list):
        raise CommandError(f"{where}: expected a table with a list 'faults'")
    extra = set(data) - {"faults"}
    if extra:
        raise CommandError(f"{where}: unknown top-level key(s) {sorted(extra)}")
    return Scenario(
        [_fault(item, f"{where}: faults[{i}]") for i, item in enumerate(data.get("faults", []))]
    )


def _fault(item: Any, where: str) -> Fault:
    if not isinstance(item, dict):
        raise CommandError(f"{where}: each fault must be a table/object")
    kind = item.get("kind")
    if kind not in _PARAMS:
        raise CommandError(f"{where}: kind must be one of {sorted(_PARAMS)}, got {kind!r}")
    spec = _PARAMS[kind]
    unknown = set(item) - _TRIGGER_KEYS - set(spec)
    if unknown:
        raise CommandError(f"{where}: unknown key(s) {sorted(unknown)} for kind {kind!r}")
    has_match, has_at = "match" in item, "at" in item
    if has_match == has_at:
        raise CommandError(f"{where}: give exactly one trigger, 'match' or 'at'")
    if has_match and kind not in COMMAND_KINDS:
        raise CommandError(f"{where}: kind {kind!r} is triggered by 'at', not 'match'")
    if has_at and kind not in CLOCK_KINDS:
        raise CommandError(f"{where}: kind {kind!r} is triggered by 'match', not 'at'")
    fault = Fault(kind=kind)
    if has_match:
        fault.match = normalise(_typed(item, "match", str, where))
        fault.nth = _typed(item, "nth", int, where) if "nth" in item else 1
        fault.times = _typed(item, "times", int, where) if "times" in item else 1
        if fault.nth < 1 or fault.times < 1:
            raise CommandError(f"{where}: 'nth' and 'times' must be >= 1")
        if "until" in item:
            fault.until = _typed(item, "until", float, where)
            if fault.until <= 0:
                raise CommandError(f"{where}: 'until' must be > 0 (seconds after the start)")
    elif "until" in item:
        raise CommandError(f"{where}: 'until' goes with 'match' (a command fault)")
    if has_at:
        fault.at = _typed(item, "at", float, where)
    for key, (typ, required) in spec.items():
        if key in item:
            fault.params[key] = _typed(item, key, typ, where)
        elif required:
            raise CommandError(f"{where}: kind {kind!r} needs {key!r}")
    _check_values(fault, where)
    return fault


def _typed(item: dict[str, Any], key: str, typ: type, where: str) -> Any:
    value = item[key]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, typ) or isinstance(value, bool):
        raise CommandError(f"{where}: {key!r} must be {typ.__name__}, got {value!r}")
    return value


def _check_values(fault: Fault, where: str) -> None:
    p = fault.params
    if "hex" in p:
        try:
            bytes.fromhex(p["hex"])
        except ValueError:
            raise CommandError(f"{where}: 'hex' is not hex bytes: {p['hex']!r}") from None
    for key in ("seconds", "duration", "pause"):
        if p.get(key, 0) < 0:
            raise CommandError(f"{where}: {key!r} must be >= 0")
    if fault.at is not None and fault.at < 0:
        raise CommandError(f"{where}: 'at' must be >= 0")
    if p.get("stat", 2) not in (0, 2):
        raise CommandError(f"{where}: 'stat' must be 0 or 2")
    if p.get("level", 0) not in (0, 1, 2):
        raise CommandError(f"{where}: 'level' must be 0, 1 or 2")
    if p.get("sends", 1) < 1:
        raise CommandError(f"{where}: 'sends' must be >= 1")
    if "urc" in p and (not p["urc"].isascii() or "\r" in p["urc"] or "\n" in p["urc"]):
        raise CommandError(f"{where}: 'urc' is one ASCII line without CR/LF")
