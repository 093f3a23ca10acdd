# meterbus: the meter side of the wire: emulated CJ/T 188 / DL/T 645 meters on a pty
# (`nbkit meterbus`, command.py) and the frame decoder (`nbkit meter decode`, decode.py).
"""Meter-bus host tools: the CJ/T 188 / DL/T 645 meter emulator and the frame decoder.

The codecs are the firmware's own files (``firmware/nbkit/sense``), installed as ``nbkit`` by
the editable install (pyproject maps the package), so host and device share one codec.
"""

# the one codec, for host code and tests: `from host_tools.meterbus import cjt188`
from nbkit.sense import (  # type: ignore[import-not-found, unused-ignore]
    bus,
    cjt188,
    dlt645,
    mbus,
    mbus_build,
    mbus_data,
    mbus_vif,
    names,
    protocols,
)

__all__ = [
    "bus",
    "cjt188",
    "dlt645",
    "mbus",
    "mbus_build",
    "mbus_data",
    "mbus_vif",
    "names",
    "protocols",
]
