"""Hardware-in-the-loop testing: the `dut` console and the pytest plugin (`--board`, `--port`)."""
