"""Huawei CDP commands of the bc95/bc28 personas against the real CoAP platform stand-in."""

from __future__ import annotations

from emulator_support import sim_modem

from host_tools.collector.coap import PlatformThread

OK = b"\r\nOK\r\n"


def _enabled(port) -> None:
    """Under the time master a request to the platform holds device time until its answer:
    registered by the next device second."""
    deadline = port.now() + 5
    while b"MO_DATA_ENABLED" not in port.command("AT+NMSTATUS?"):
        assert port.now() < deadline, "platform registration did not finish"
        port.idle(1)


def test_status_and_settings_before_and_after_a_platform_is_configured():
    with PlatformThread(lambda data, peer: b"") as platform:
        with sim_modem("bc28") as (_emu, port):
            assert port.command("AT+NMSTATUS?") == b"\r\n+NMSTATUS:UNINITIALISED\r\n" + OK
            assert port.command("AT+NCDP?") == OK
            assert port.command("AT+NCDP=127.0.0.1") == OK
            assert port.command("AT+NCDP?") == b"\r\n+NCDP:127.0.0.1,5683\r\n" + OK
            host, cport = platform.platform.host, platform.platform.port
            assert port.command(f"AT+NCDP={host},{cport}") == OK
            _enabled(port)
            assert platform.platform.registrations >= 1
            assert port.command("AT+NQMGS") == b"\r\nPENDING=0,SENT=0,ERROR=0\r\n" + OK
            assert port.command("AT+NQMGR") == b"\r\nBUFFERED=0,RECEIVED=0,DROPPED=0\r\n" + OK
            assert port.command("AT+NCDP=not-an-ip") == b"\r\nERROR\r\n"


def test_nnmi_2_indicates_bare_and_nmgr_reads_the_oldest_downlink():
    with PlatformThread(lambda data, peer: data[::-1]) as platform:
        with sim_modem("bc95") as (_emu, port):
            host, cport = platform.platform.host, platform.platform.port
            for cmd in (f"AT+NCDP={host},{cport}", "AT+NNMI=2", "AT+NSMI=1"):
                assert port.command(cmd) == OK
            _enabled(port)
            assert port.command("AT+NMGS=3,0D0A4F") == OK
            assert port.read_until(b"+NNMI\r\n", timeout=5).endswith(
                b"\r\n+NSMI:SENT\r\n\r\n+NNMI\r\n"
            )
            assert port.command("AT+NMGR") == b"\r\n3,4F0A0D\r\n" + OK  # the platform's answer
            assert port.command("AT+NMGR") == OK
            assert port.command("AT+NMGS=3,0D0A") == b"\r\nERROR\r\n"  # length does not match
            assert port.command("AT+NQMGS") == b"\r\nPENDING=0,SENT=1,ERROR=0\r\n" + OK


def test_a_platform_that_went_away_gives_nsmi_discarded():
    platform = PlatformThread(lambda data, peer: b"")
    with platform, sim_modem("bc28") as (_emu, port):
        host, cport = platform.platform.host, platform.platform.port
        for cmd in (f"AT+NCDP={host},{cport}", "AT+NSMI=1", "AT+CMEE=1"):
            assert port.command(cmd) == OK
        _enabled(port)
        platform.call(platform.platform.stop())
        assert port.command("AT+NMGS=1,00") == OK
        assert port.read_until(b"+NSMI:DISCARDED\r\n", timeout=15)
        assert port.command("AT+NQMGS") == b"\r\nPENDING=0,SENT=0,ERROR=1\r\n" + OK
