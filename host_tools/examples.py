"""One example command line per `nbkit` command, shown at the end of its ``--help``.

A command whose own help already shows an example keeps it; cli.py appends these to the rest.
"""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "build": "nbkit build --board esp32_bc28 --json",
    "boards": "nbkit boards --wiring",
    "demo": "nbkit demo --profile water --transport mqtt --json",
    "bench": "nbkit bench --suite payload --json",
    "deploy": "nbkit deploy --board esp32_bc28 --port /dev/ttyUSB0",
    "provision": "nbkit provision --port /dev/ttyUSB0 --json identify",
    "energy": "nbkit energy --model bc28 --reports-per-day 4 --mode a --json",
    "timers": "nbkit timers encode --t3412 24h --t3324 10s --edrx 81.92s --json",
    "collect": "nbkit collect --listen 0.0.0.0:5683 --db readings.db --keys keys.json",
    "readings": "nbkit readings --db readings.db --device 1042 --json",
    "keys": "nbkit keys new --device 1042 --keys keys.json --json",
    "meterbus": "nbkit meterbus --protocol cjt188 --meter-type water --set total=123456",
    "meter": "nbkit meter decode cjt188 68 10 44 33 22 11 00 00 00 01 03 1F 90 01 D6 16 --json",
    "vboard": "nbkit vboard --console --flash /tmp/board.img",
    "board": "nbkit board --port 40123 pulse pulse_a 10",
    "flash": "nbkit flash --board esp32_bc28 --port /dev/ttyUSB0 --firmware ESP32_GENERIC.bin",
    "emulate": "nbkit emulate --modem bc28",
    "broker": "nbkit broker --listen 127.0.0.1:1883",
}


def epilog_with_example(name: str, epilog: str | None, description: str | None) -> str | None:
    """The command's epilog with its example appended, unless its help already has one."""
    shown = f"{description or ''}\n{epilog or ''}".lower()
    example = EXAMPLES.get(name)
    if example is None or "example" in shown:
        return epilog
    return f"{epilog}\n\nexample:\n  {example}" if epilog else f"example:\n  {example}"
