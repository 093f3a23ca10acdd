# The firmware test runner really is MicroPython, with a device-sized heap.
import gc
import sys

HEAPSIZE = "128K"


def test_runtime_is_micropython():
    assert sys.implementation.name == "micropython", sys.implementation.name
    assert hasattr(sys.implementation, "_mpy")


def test_heap_is_device_sized():
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    assert total <= 128 * 1024, total


def test_allocation_beyond_the_heap_fails():
    try:
        bytearray(200 * 1024)
    except MemoryError:
        return
    raise AssertionError("a 200 KiB allocation fitted in a 128 KiB heap")


def test_cpython_only_modules_are_absent():
    for name in ("dataclasses", "typing", "pathlib", "subprocess"):
        try:
            __import__(name)
        except ImportError:
            continue
        raise AssertionError(name + " imported: this is not MicroPython")


def test_firmware_package_is_on_the_path():
    import nbkit

    assert nbkit.VERSION
