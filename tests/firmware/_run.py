# Runs one firmware test function in MicroPython: _run.py <module> <function>.
# Prints PASS on success; on failure prints the MicroPython traceback and exits 1.
import sys


def main():
    module = __import__(sys.argv[1])
    test = getattr(module, sys.argv[2])
    try:
        test()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not hidden
        sys.print_exception(exc)
        sys.exit(1)
    print("PASS")


main()
