"""`nbkit provision`: the field technician's tool for a device's provisioning console.

Talks to the line protocol of ``firmware/nbkit/console`` over a serial port (a real
``/dev/ttyUSB*``, the virtual board's console pty, or any pyserial URL such as ``loop://`` or
``spy://``). Each device reply is data lines ``key: value`` ending in ``OK`` or
``ERR <code> <message>``. Commands that need a service session unlock first with the
per-device service PIN (or challenge-response with the device key) and lock again at the end.

Secrets (PIN, keys) come from a prompt or a file, never from the command line, where they would
end up in shell history and in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from host_tools.device.console_client import (  # noqa: F401 - the provision API
    DEVICE_LINE_MAX,
    ConsoleClient,
    DeviceRefused,
    DeviceUnreachable,
    Reply,
    parse_final,
)
from host_tools.errors import CommandError

EXIT_OK = 0
EXIT_DEVICE = 1  # the device answered ERR, or the answer was not what was asked for
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3  # port cannot be opened, or no answer in time

#: key sizes the device accepts, in bytes
KEY_MIN, KEY_MAX = 16, 32
_NEEDS_SESSION = {"get", "set", "key", "selftest", "log", "reset", "unlock"}

_EPILOG = """\
exit codes:
  0  done
  1  the device refused (wrong PIN, invalid value, failed self-test, ...), message on stderr
  2  usage error (bad arguments, a secret given on the command line)
  3  cannot reach the device: port missing or busy, or no answer within --timeout

secrets: the service PIN is read from --pin-file (`-`: stdin) or asked for at a prompt; a
device key (`key set`, --auth-key-file) from a file holding hex digits or a prompt. They are
never accepted as arguments: `set service_pin=1234` is refused; `set service_pin` asks for it
(no echo), `set service_pin=@FILE` reads it from FILE (`@-`: stdin). Same for mqtt_password.

examples:
  nbkit provision --port /dev/ttyUSB0 identify
  nbkit provision --port /dev/ttyUSB0 --pin-file pin.txt set apn=iot.nb bands=3,8
  nbkit provision --port /dev/ttyUSB0 --pin-file pin.txt set service_pin=@new-pin.txt
  nbkit provision --port /dev/ttyUSB0 --pin-file pin.txt key set --key-file dev42.key
  nbkit provision --port /dev/pts/7 --json --pin-file pin.txt selftest
"""


#: configuration values that are secrets: never taken from the command line (issue 16 #8)
SECRET_SETTINGS = ("service_pin", "mqtt_password")


def read_secret_file(path: str, what: str) -> str:
    """First line of ``path`` (``-``: of stdin), stripped; a clear error when missing/empty."""
    try:
        if path == "-":
            text = sys.stdin.readline().strip()
        else:
            text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read the {what} from {path}: {exc}") from exc
    if not text:
        raise CommandError(f"{path} is empty: it should hold the {what}")
    return text.splitlines()[0].strip()


def parse_key(text: str, source: str) -> bytes:
    """A device key written as hex digits (spaces and ':' allowed between bytes)."""
    digits = text.replace(" ", "").replace(":", "")
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        raise CommandError(f"the key in {source} is not hex digits") from None
    if not KEY_MIN <= len(key) <= KEY_MAX:
        raise CommandError(f"the key in {source} has {len(key)} bytes; {KEY_MIN} to {KEY_MAX}")
    return key


def key_fingerprint(key: bytes) -> str:
    """The fingerprint the device answers for a key: first 8 bytes of SHA-256, hex."""
    return hashlib.sha256(key).digest()[:8].hex()


def have_terminal() -> bool:
    """True when a prompt can be answered: getpass reads /dev/tty, without echo."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _ask(prompt: str, what: str, instead: str) -> str:
    """A secret from the terminal without echo; ``instead`` says how to give it without one."""
    if not have_terminal():
        raise _UsageError(f"no terminal to ask for the {what}: {instead}")
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise CommandError(f"no {what} given") from None


def _get_pin(args: argparse.Namespace) -> str:
    if args.pin_file:
        return read_secret_file(args.pin_file, "service PIN")
    pin = _ask(
        f"service PIN for the device on {args.port}: ",
        "service PIN",
        "give --pin-file FILE (--pin-file - reads it from stdin)",
    )
    pin = pin.strip()
    if not pin:
        raise CommandError("no PIN given")
    return pin


def _get_key(path: str | None, prompt: str) -> bytes:
    if path:
        return parse_key(read_secret_file(path, "key"), path)
    return parse_key(_ask(prompt, "device key", "give --key-file FILE"), "the prompt")


def unlock(client: ConsoleClient, args: argparse.Namespace) -> None:
    """Open a service session: challenge-response with --auth-key-file, else the PIN."""
    if args.auth_key_file:
        key = _get_key(args.auth_key_file, "")
        nonce_hex = client.check("challenge", "unlock").as_dict().get("nonce", "")
        try:
            nonce = bytes.fromhex(nonce_hex)
        except ValueError:
            raise CommandError(f"unlock: the device sent a bad nonce {nonce_hex!r}") from None
        answer = hmac.new(key, nonce, hashlib.sha256).hexdigest()
        client.check(f"respond {answer}", "unlock")
        return
    pin = _get_pin(args)
    if not pin.isascii() or not pin.isprintable() or " " in pin:
        raise CommandError("the PIN must be printable ASCII without spaces")
    client.check(f"unlock {pin}", "unlock")


# -- subcommands: each returns (result for --json, lines for people) ---------------------

Result = tuple[Any, list[str]]


def _table(pairs: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{k.ljust(width)}  {v}" for k, v in pairs]


def _do_identify(client: ConsoleClient, args: argparse.Namespace) -> Result:
    reply = client.check("identify", "identify")
    return reply.as_dict(), _table(reply.data)


def _do_get(client: ConsoleClient, args: argparse.Namespace) -> Result:
    reply = client.check(f"get {args.key}" if args.key else "get", "get")
    return reply.as_dict(), _table(reply.data)


def _secret_value(pair: str) -> str:
    """``NAME`` (ask), ``NAME=@FILE`` / ``NAME=@-`` (file / stdin) of a secret -> NAME=value."""
    name, sep, value = pair.partition("=")
    if not sep:
        value = _ask(f"{name} (not shown): ", name, f"write `set {name}=@FILE` (@-: stdin)")
        if have_terminal() and getpass.getpass(f"{name} again: ") != value:
            raise CommandError(f"the two {name} entries differ: nothing was changed")
    elif value.startswith("@") and len(value) > 1:
        value = read_secret_file(value[1:], name)
    elif value:
        raise _UsageError(
            f"{name} is a secret and is never taken from the command line (shell history, "
            f"`ps`): write `set {name}` to be asked for it (no echo), `set {name}=@FILE` to "
            f"read it from FILE, or `set {name}=@-` to read it from stdin"
        )
    return f"{name}={value.strip()}"


def _quote(pair: str) -> str:
    if pair.partition("=")[0] in SECRET_SETTINGS:
        pair = _secret_value(pair)
    key, sep, value = pair.partition("=")
    if not sep or not key or '"' in pair or not pair.isascii() or not pair.isprintable():
        raise _UsageError(f"expected key=value of printable ASCII without '\"', got {pair!r}")
    return f'{key}="{value}"' if (" " in value or not value) else pair


def _do_set(client: ConsoleClient, args: argparse.Namespace) -> Result:
    line = "set " + " ".join(_quote(p) for p in args.pairs)
    if len(line) > DEVICE_LINE_MAX:
        raise _UsageError(
            f"these values make a {len(line)}-character line; the device takes "
            f"{DEVICE_LINE_MAX}: split them over several `set` commands"
        )
    reply = client.check(line, "set")
    return reply.as_dict(), _table(reply.data) + ["saved"]


def _do_key(client: ConsoleClient, args: argparse.Namespace) -> Result:
    if args.action == "fingerprint":
        fp = client.check("key fingerprint", "key").as_dict().get("fingerprint", "none")
        return {"fingerprint": None if fp == "none" else fp}, [f"key fingerprint: {fp}"]
    key = _get_key(args.key_file, "device key (hex): ")
    expected = key_fingerprint(key)
    got = client.check(f"key set {key.hex()}", "key set").as_dict().get("fingerprint")
    if got != expected:
        raise CommandError(
            f"key set: the device reports fingerprint {got}, the key gives {expected}: "
            "the key did not arrive intact, set it again"
        )
    return {"fingerprint": got, "verified": True}, [
        f"key stored, fingerprint {got} (matches the key given)"
    ]


def _do_selftest(client: ConsoleClient, args: argparse.Namespace) -> Result:
    reply = client.command("selftest")
    if not reply.ok and not reply.data:
        raise DeviceRefused("selftest", reply)  # refused before any check ran
    checks = []
    for name, text in reply.data:
        verdict, _, detail = text.partition(" ")
        checks.append({"name": name, "ok": verdict == "ok", "detail": detail})
    lines = [f"{'PASS' if c['ok'] else 'FAIL'}  {c['name']:<8} {c['detail']}" for c in checks]
    passed = sum(1 for c in checks if c["ok"])
    lines.append(f"{passed} of {len(checks)} checks passed")
    if not reply.ok:
        raise _Partial(DeviceRefused("selftest", reply), {"checks": checks}, lines)
    return {"checks": checks}, lines


def _do_log(client: ConsoleClient, args: argparse.Namespace) -> Result:
    reply = client.check(f"log {args.lines}", "log")
    entries = [value for key, value in reply.data if key == "log"]
    return {"log": entries}, entries


def _do_reset(client: ConsoleClient, args: argparse.Namespace) -> Result:
    client.check("factory-reset confirm", "reset")
    return {"reset": True}, ["factory reset done: configuration and key erased"]


def _do_unlock(client: ConsoleClient, args: argparse.Namespace) -> Result:
    return {"unlocked": True}, ["access granted (session locked again on exit)"]


class _UsageError(Exception):
    """Bad arguments found after parsing (exit code 2)."""


class _Partial(Exception):
    """A device error that still has results worth printing (self-test details)."""

    def __init__(self, error: DeviceRefused, result: Any, lines: list[str]) -> None:
        super().__init__(str(error))
        self.error, self.result, self.lines = error, result, lines


_ACTIONS: dict[str, Callable[[ConsoleClient, argparse.Namespace], Result]] = {
    "identify": _do_identify,
    "get": _do_get,
    "set": _do_set,
    "key": _do_key,
    "selftest": _do_selftest,
    "log": _do_log,
    "reset": _do_reset,
    "unlock": _do_unlock,
}


# -- command line -------------------------------------------------------------------------


class _RefuseSecret(argparse.Action):
    """An option or argument that would carry a secret on the command line: always refused."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: Any, values: Any, option: Any = None
    ) -> None:
        if values is None and option is None:
            return  # an optional positional that was not given
        parser.error(
            f"{self.metavar or self.dest} is never taken from the command line (shell "
            "history, process list): use a file option or answer the prompt"
        )


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `nbkit provision`."""
    parser.description = (
        "Provision a device through its service console (not the Python REPL): identify it,\n"
        "read and change configuration, store its key, run the self-test, read the event log."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument("--port", required=True, help="serial device or pyserial URL")
    parser.add_argument("--baud", type=int, default=115200, help="default 115200")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per answer")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--pin-file", metavar="FILE", help="file holding the service PIN")
    parser.add_argument(
        "--auth-key-file",
        metavar="FILE",
        help="unlock by challenge-response with the device key in FILE (hex) instead of a PIN",
    )
    for secret in ("--pin", "--key"):
        parser.add_argument(
            secret,
            nargs="?",
            const="",
            action=_RefuseSecret,
            metavar=secret[2:].upper(),
            help=argparse.SUPPRESS,
        )
    sub = parser.add_subparsers(dest="action_name", metavar="COMMAND", required=True)
    sub.add_parser("identify", help="model, firmware, IMEI, ICCID, IMSI, signal (no PIN)")
    get = sub.add_parser("get", help="show the configuration, or one key")
    get.add_argument("key", nargs="?")
    st = sub.add_parser("set", help="change configuration: all values valid or nothing changes")
    st.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    key = sub.add_parser("key", help="store the device key (write-only) or show its fingerprint")
    key.add_argument("action", choices=("set", "fingerprint"))
    key.add_argument("--key-file", metavar="FILE", help="file holding the key as hex digits")
    key.add_argument(
        "secret", nargs="?", action=_RefuseSecret, metavar="the key", help=argparse.SUPPRESS
    )
    sub.add_parser("selftest", help="modem, SIM, attach, test uplink, sensor")
    log = sub.add_parser("log", help="the newest event-log lines")
    log.add_argument("-n", "--lines", type=int, default=20, help="how many (1-100, default 20)")
    reset = sub.add_parser("reset", help="factory reset: erase configuration and key")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("unlock", help="check the PIN / key: unlock, then lock again")


def _confirm_reset(args: argparse.Namespace) -> None:
    if args.action_name != "reset" or args.yes:
        return
    if not sys.stdin.isatty():
        raise _UsageError("reset erases the device: add --yes when not at a terminal")
    answer = input(f"factory reset the device on {args.port}? type 'erase' to go on: ")
    if answer.strip() != "erase":
        raise CommandError("factory reset cancelled")


def _check_secret_sources(args: argparse.Namespace) -> None:
    """Before connecting: a secret that would need a prompt needs a terminal (exit 2)."""
    if args.action_name == "set":
        for pair in args.pairs:
            name, sep, value = pair.partition("=")
            if name in SECRET_SETTINGS:
                _check_secret_pair(name, sep, value)
    if args.action_name in _NEEDS_SESSION and not (args.pin_file or args.auth_key_file):
        if not have_terminal():
            raise _UsageError(
                "no terminal to ask for the service PIN: give --pin-file FILE (--pin-file - "
                "reads it from stdin) or --auth-key-file FILE"
            )
    if args.action_name == "key" and args.action == "set" and not args.key_file:
        if not have_terminal():
            raise _UsageError("no terminal to ask for the key: give --key-file FILE")


def _check_secret_pair(name: str, sep: str, value: str) -> None:
    if sep and value and not value.startswith("@"):
        _secret_value(f"{name}={value}")  # raises: a secret on the command line
    if not sep and not have_terminal():
        raise _UsageError(
            f"no terminal to ask for {name}: write `set {name}=@FILE` (or `{name}=@-` for stdin)"
        )


def _session(args: argparse.Namespace) -> Result:
    client = ConsoleClient.open(args.port, args.baud, args.timeout)
    try:
        client.sync()
        needs_session = args.action_name in _NEEDS_SESSION
        if needs_session:
            unlock(client, args)
        try:
            return _ACTIONS[args.action_name](client, args)
        except DeviceUnreachable:
            needs_session = False  # nobody to lock
            raise
        finally:
            if needs_session:
                client.command("exit")  # lock the session again
    finally:
        client.close()


def _emit(args: argparse.Namespace, ok: bool, result: Any, lines: list[str], err: str) -> None:
    if args.json:
        doc: dict[str, Any] = {"ok": ok, "command": args.action_name, "result": result}
        if err:
            doc["error"] = err
        print(json.dumps(doc, indent=2))
    else:
        for line in lines:
            print(line)
    if err:
        print(f"nbkit: {err}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run one provisioning command; see the exit codes in `nbkit provision --help`."""
    try:
        if args.action_name == "log" and not 1 <= args.lines <= 100:
            raise _UsageError("--lines must be from 1 to 100")
        _confirm_reset(args)
        _check_secret_sources(args)
        result, lines = _session(args)
    except _UsageError as exc:
        print(f"nbkit provision: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DeviceUnreachable as exc:
        _emit(args, False, None, [], str(exc))
        return EXIT_UNREACHABLE
    except _Partial as exc:
        _emit(args, False, exc.result, exc.lines, str(exc.error))
        return EXIT_DEVICE
    except CommandError as exc:
        _emit(args, False, None, [], str(exc))
        return EXIT_DEVICE
    _emit(args, True, result, lines, "")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m host_tools.device.provision ...` (same as `nbkit provision ...`)."""
    parser = argparse.ArgumentParser(prog="nbkit provision")
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
