"""The meter protocol registry, as the host reads it (the firmware's nbkit.sense.protocols)."""

from nbkit.sense.protocols import PROTOCOLS  # type: ignore[import-not-found, unused-ignore]

__all__ = ["PROTOCOLS"]
