"""Meter-bus host tools: the CJ/T 188 / DL/T 645 meter emulator and the frame decoder.

The codecs are the firmware's own files (``firmware/nbkit/sense``). When the installed package
does not expose ``nbkit`` (the editable install lists only ``host_tools``), the firmware
directory is put on ``sys.path`` so ``import nbkit.sense.cjt188`` loads those same files.
"""

import sys

from host_tools import FIRMWARE_DIR

try:
    import nbkit  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
except ImportError:
    sys.path.insert(0, str(FIRMWARE_DIR))

# the one codec, for host code and tests: `from host_tools.meterbus import cjt188`
from nbkit.sense import (  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
    bus,
    cjt188,
    dlt645,
    names,
)

__all__ = ["bus", "cjt188", "dlt645", "names"]
