# The AT engine, specified by exchanges with a scripted modem (virtual time, real MicroPython).
from fakes import Later, modem
from nbkit.at.engine import (
    RESULT_ABORT,
    RESULT_CME,
    RESULT_CMS,
    RESULT_ERROR,
    RESULT_OK,
    RESULT_TIMEOUT,
)


def _collect(engine, prefix):
    got = []
    engine.on_urc(prefix, lambda line, data: got.append(line))
    return got


def test_simple_command_ok():
    engine, fake, _ = modem()
    fake.expect(b"AT\r", b"\r\nOK\r\n")
    reply = engine.command("AT")
    assert reply.ok and reply.result == RESULT_OK, reply
    assert reply.lines == [], reply.lines
    fake.verify()


def test_reply_assembled_from_single_byte_reads():
    engine, fake, _ = modem(split=1)
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ:18,99\r\n\r\nOK\r\n")
    reply = engine.command("AT+CSQ", "+CSQ:")
    assert reply.ok and reply.first("+CSQ:") == "18,99", reply
    assert engine.bytes_out == 7 and engine.bytes_in == 20, engine.counters()


def test_csq_line_is_a_reply_while_at_csq_runs_and_a_urc_otherwise():
    engine, fake, _ = modem()
    urcs = _collect(engine, "+CSQ:")
    fake.expect(b"AT+CSQ\r", b"\r\n+CSQ:18,99\r\n\r\nOK\r\n")
    reply = engine.command("AT+CSQ", "+CSQ:")
    assert reply.lines == ["+CSQ:18,99"] and urcs == [], (reply, urcs)
    fake.send(b"\r\n+CSQ:20,99\r\n")
    engine.poll(10)
    assert urcs == ["+CSQ:20,99"], urcs


def test_urc_before_ok_is_dispatched_not_taken_as_reply():
    # BC68 log: AT+CFUN=1 / +CEREG:0,0000,00000000,9 / OK
    engine, fake, _ = modem()
    urcs = _collect(engine, "+CEREG:")
    fake.expect(b"AT+CFUN=1\r", b"\r\n+CEREG:0,0000,00000000,9\r\n", Later(50, b"\r\nOK\r\n"))
    reply = engine.command("AT+CFUN=1", timeout_ms=5000)
    assert reply.ok and reply.lines == [], reply
    assert urcs == ["+CEREG:0,0000,00000000,9"], urcs
    assert engine.dropped == 0, engine.counters()


def test_urc_between_response_lines_is_kept_apart():
    engine, fake, _ = modem(split=5)
    urcs = _collect(engine, "+CSCON:")
    fake.expect(
        b"AT+NCONFIG?\r",
        b"\r\n+NCONFIG:AUTOCONNECT,TRUE\r\n+CSCON:1\r\n+NCONFIG:COMBINE_ATTACH,FALSE\r\n\r\nOK\r\n",
    )
    reply = engine.command("AT+NCONFIG?", "+NCONFIG:")
    assert reply.lines == ["+NCONFIG:AUTOCONNECT,TRUE", "+NCONFIG:COMBINE_ATTACH,FALSE"], reply
    assert urcs == ["+CSCON:1"], urcs


def test_urc_with_no_command_running_is_dispatched_by_poll():
    engine, fake, _ = modem()
    urcs = _collect(engine, "+NSONMI:")
    fake.send(b"\r\n+NSONMI:1,12\r\n", after_ms=400)
    assert engine.poll(100) == 0 and urcs == [], urcs
    assert engine.poll(1000) == 1 and urcs == ["+NSONMI:1,12"], urcs


def test_bare_line_reply_leaves_urcs_alone():
    engine, fake, _ = modem()
    urcs = _collect(engine, "+CEREG:")
    fake.expect(b"AT+CIMI\r", b"\r\n+CEREG:1\r\n460111175090234\r\n\r\nOK\r\n")
    reply = engine.command("AT+CIMI", "")
    assert reply.lines == ["460111175090234"] and urcs == ["+CEREG:1"], (reply, urcs)


def test_multi_line_bare_reply():
    engine, fake, _ = modem(split=7)
    body = b"SSB,V150R100C10B200SP1\r\nSECURITY_A,V150R100C20B300SP2\r\nRADIO,Hi2115_RF1\r\n"
    fake.expect(b"AT+CGMR\r", b"\r\n" + body + b"\r\nOK\r\n")
    reply = engine.command("AT+CGMR", "")
    assert len(reply.lines) == 3 and reply.lines[2] == "RADIO,Hi2115_RF1", reply


def test_echo_on_is_tolerated():
    # After ATE1 the echo is the command and CR only, then the normal response.
    engine, fake, _ = modem(split=3)
    fake.expect(b"AT+CGSN=1\r", b"AT+CGSN=1\r\r\n+CGSN:867726031076062\r\n\r\nOK\r\n")
    reply = engine.command("AT+CGSN=1", "+CGSN:")
    assert reply.first("+CGSN:") == "867726031076062", reply
    assert engine.dropped == 0, engine.counters()


def test_echo_of_bare_reply_command_is_not_the_reply():
    engine, fake, _ = modem()
    fake.expect(b"AT+CIMI\r", b"AT+CIMI\r\r\n460111175090234\r\n\r\nOK\r\n")
    assert engine.command("AT+CIMI", "").lines == ["460111175090234"]


def test_garbage_bytes_are_dropped_and_counted():
    engine, fake, _ = modem()
    fake.expect(b"AT\r", b"\x00\xc3\xe2F\xf8\r\n\xffOK\r\n")
    reply = engine.command("AT")
    assert reply.ok, reply
    assert engine.garbage == 5, engine.counters()
    assert engine.dropped == 1, engine.counters()  # the printable rest, "F", nobody expected


def test_cr_only_and_lf_only_line_ends():
    engine, fake, _ = modem()
    fake.expect(b"AT+CSQ\r", b"\r+CSQ:5,99\rOK\r")
    assert engine.command("AT+CSQ", "+CSQ:").lines == ["+CSQ:5,99"]
    fake.expect(b"AT+CSQ\r", b"\n+CSQ:6,99\nOK\n")
    assert engine.command("AT+CSQ", "+CSQ:").lines == ["+CSQ:6,99"]


def test_overlong_line_is_dropped_whole_and_counted():
    engine, fake, _ = modem(split=64)
    fake.expect(b"AT+NUESTATS\r", b"\r\n" + b"A" * 5000 + b"\r\nSignal power:-819\r\n\r\nOK\r\n")
    reply = engine.command("AT+NUESTATS", "")
    assert reply.ok and reply.lines == ["Signal power:-819"], reply
    assert engine.overlong == 1, engine.counters()
    assert len(engine._line) == engine.line_max == 1100, engine.line_max


def test_error_and_cme_error_with_and_without_space():
    engine, fake, _ = modem()
    fake.expect(b"AT+X\r", b"\r\nERROR\r\n")
    assert engine.command("AT+X").result == RESULT_ERROR
    fake.expect(b"AT+NSOST=1\r", b"\r\n+CME ERROR: 159\r\n")
    reply = engine.command("AT+NSOST=1")
    assert (reply.result, reply.cme) == (RESULT_CME, 159), reply
    fake.expect(b"AT+NSOST=1\r", b"\r\n+CME ERROR:537\r\n")
    reply = engine.command("AT+NSOST=1")
    assert (reply.result, reply.cme) == (RESULT_CME, 537), reply
    fake.expect(b"AT+CMGS\r", b"\r\n+CMS ERROR: 500\r\n")
    reply = engine.command("AT+CMGS")
    assert (reply.result, reply.cme) == (RESULT_CMS, 500), reply
    fake.expect(b"AT+C\r", b"\r\n+CME ERROR: operation not allowed\r\n")
    reply = engine.command("AT+C")
    assert (reply.result, reply.cme, reply.ok) == (RESULT_CME, None, False), reply


def test_timeout_is_virtual_and_counted():
    engine, fake, clock = modem()
    fake.expect(b"AT+CGATT=1\r")
    start = clock.ticks_ms()
    reply = engine.command("AT+CGATT=1", timeout_ms=60000)
    assert reply.result == RESULT_TIMEOUT, reply
    assert clock.ticks_ms() - start == 60000, clock.ticks_ms()
    assert engine.timeouts == 1, engine.counters()


def test_late_ok_after_a_timeout_is_not_taken_by_the_next_command():
    engine, fake, _ = modem()
    fake.expect(b"AT+CSQ\r", Later(500, b"\r\nOK\r\n"))
    assert engine.command("AT+CSQ", "+CSQ:", timeout_ms=300).result == RESULT_TIMEOUT
    fake.expect(b"AT+CEREG?\r", Later(100, b"\r\nERROR\r\n"))
    engine.idle(300)  # the stray OK arrives while idle and is dropped
    assert engine.command("AT+CEREG?", "+CEREG:").result == RESULT_ERROR
    assert engine.dropped == 1, engine.counters()


def test_concatenated_commands_answer_several_oks():
    engine, fake, _ = modem()
    fake.expect(
        b"AT+CEREG=2;+NPSMR=1;+CSCON=1\r", b"\r\nOK\r\n\r\nOK\r\n", Later(20, b"\r\nOK\r\n")
    )
    reply = engine.command("AT+CEREG=2;+NPSMR=1;+CSCON=1", finals=3)
    assert reply.ok and reply.finals == 3, reply
    fake.expect(b"AT\r", b"\r\nOK\r\n")
    assert engine.command("AT").ok
    assert engine.dropped == 0, engine.counters()


def test_concatenated_commands_stop_at_the_first_error():
    engine, fake, _ = modem()
    fake.expect(b"AT+A;+B;+C\r", b"\r\nOK\r\n\r\n+CME ERROR: 50\r\n")
    reply = engine.command("AT+A;+B;+C", finals=3)
    assert (reply.result, reply.cme, reply.finals) == (RESULT_CME, 50, 2), reply


def test_prompt_without_line_end_then_raw_payload():
    engine, fake, _ = modem(split=2)
    fake.expect(b"AT+QISEND=0,7\r", b"\r\n> ")
    fake.expect(b"a\r\nOK\x00z", b"\r\nSEND OK\r\n")
    reply = engine.command(
        "AT+QISEND=0,7", data=b"a\r\nOK\x00z", extra_ok=("SEND OK",), extra_err=("SEND FAIL",)
    )
    assert reply.ok, reply
    fake.verify()


def test_prompt_never_comes_error_instead_and_no_payload_written():
    engine, fake, _ = modem()
    fake.expect(b"AT+QISEND=0,3\r", b"\r\nERROR\r\n")
    reply = engine.command("AT+QISEND=0,3", data=b"abc", extra_ok=("SEND OK",))
    assert reply.result == RESULT_ERROR, reply
    fake.verify()


def _recv_len(line):
    # '+QIURC: "recv",<id>,<len>' -> len
    return int(line.rsplit(",", 1)[1])


def test_an_abort_line_ends_the_command_at_once_and_still_reaches_its_urc_handler():
    # A module that resets while a prompt is awaited answers "RDY", never the prompt: the
    # command ends then (not after its timeout), no payload is written, the driver sees RDY.
    engine, fake, clock = modem()
    engine.abort_on = ("RDY",)
    banners = _collect(engine, "RDY")
    fake.expect(b"AT+QISEND=0,3\r", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n")
    t0 = clock.ticks_ms()
    reply = engine.command("AT+QISEND=0,3", None, 10000, data=b"abc")
    assert reply.result == RESULT_ABORT and not reply.ok, reply
    assert clock.ticks_ms() - t0 < 1000, clock.ticks_ms() - t0
    engine.poll(10)
    assert banners == ["RDY"], banners
    fake.verify()  # and nothing more was written: no payload
    fake.expect(b"AT\r", b"\r\nOK\r\n")
    assert engine.command("AT").ok  # the next command is answered as usual


BANNER = b"\r\nREBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET\r\nNeul\r\nOK\r\n"


def _huawei(engine):
    # The BC95 profile's banner wiring: its lines are URCs, its OK follows "Neul".
    engine.banner_end = ("Neul",)
    engine.on_urc("REBOOT_CAUSE_", lambda line, data: None)
    engine.on_urc("Neul", lambda line, data: None)


def test_a_banners_own_ok_is_not_the_answer_of_an_at_written_while_the_module_booted():
    # The AT crossed the end of the boot: the module answers it after its banner. Taking the
    # banner's OK for it would pair every later command with the answer of the one before.
    engine, fake, _ = modem()
    _huawei(engine)
    fake.expect(b"AT\r", Later(100, BANNER), Later(110, b"\r\nOK\r\n"))
    reply = engine.command("AT", None, 500)
    assert reply.result == RESULT_ABORT, reply  # the module rebooted under it
    engine.idle(100)  # its real OK comes with no command running: dropped
    fake.expect(b"AT+NCONFIG?\r", b"\r\n+NCONFIG:AUTOCONNECT,TRUE\r\n\r\nOK\r\n")
    reply = engine.command("AT+NCONFIG?", "+NCONFIG:")
    assert reply.ok and reply.lines == ["+NCONFIG:AUTOCONNECT,TRUE"], reply
    assert engine.dropped == 1, engine.counters()


def test_a_banner_ok_with_no_command_running_is_dropped_and_the_next_command_is_answered():
    engine, fake, _ = modem()
    _huawei(engine)
    fake.send(BANNER)
    engine.poll(10)
    fake.expect(b"AT+CMEE=1\r", b"\r\nOK\r\n")
    assert engine.command("AT+CMEE=1").ok
    assert engine.dropped == 1, engine.counters()


def test_a_command_written_between_the_banners_last_line_and_its_ok_gets_its_own_answer():
    # the module is up once it printed "Neul": a command sent then is answered after the
    # banner's OK, which is dropped, not taken for that answer
    engine, fake, _ = modem()
    _huawei(engine)
    fake.send(b"\r\nREBOOT_CAUSE_SECURITY_PMU_POWER_ON_RESET\r\nNeul\r\n")
    engine.poll(10)
    fake.expect(b"AT+CGSN=1\r", b"\r\nOK\r\n", Later(20, b"\r\n+CGSN:8677\r\n\r\nOK\r\n"))
    reply = engine.command("AT+CGSN=1", "+CGSN:", 300)
    assert reply.ok and reply.lines == ["+CGSN:8677"], reply
    assert engine.dropped == 1, engine.counters()


def test_at_nrb_takes_the_banners_ok_as_its_own_answer():
    engine, fake, _ = modem()
    _huawei(engine)
    fake.expect(b"AT+NRB\r", b"\r\nREBOOTING\r\n", Later(3000, BANNER))
    reply = engine.command("AT+NRB", "REBOOTING", 30000, banner=True)
    assert reply.ok and reply.lines == ["REBOOTING"], reply


def test_urc_raw_read_by_count_with_crlf_and_ok_inside_and_a_glued_urc():
    engine, fake, _ = modem(split=3)
    got = []
    engine.on_urc('+QIURC: "recv"', lambda line, data: got.append((line, data)), _recv_len)
    cscon = _collect(engine, "+CSCON:")
    payload = b"\r\nOK\r\n+CSCON:0\r\n\x00\xff"
    header = b'\r\n+QIURC: "recv",0,%d\r\n' % len(payload)
    fake.send(header + payload + b"\r\n+CSCON:0\r\n")
    engine.poll(10)
    engine.poll(10)
    assert got == [('+QIURC: "recv",0,18', payload)], got
    assert cscon == ["+CSCON:0"], cscon
    assert engine.garbage == 0, engine.counters()


def test_command_raw_read_after_a_header_line():
    engine, fake, _ = modem(split=4)
    fake.expect(b"AT+QIRD=0,100\r", b"\r\n+QIRD: 6\r\nOK\r\n\r\n\r\nOK\r\n")
    reply = engine.command(
        "AT+QIRD=0,100", "+QIRD:", raw_len=lambda line: int(line[6:].split(",")[0])
    )
    assert reply.ok and reply.data == b"OK\r\n\r\n", reply.data
    assert reply.lines == ["+QIRD: 6"], reply


def test_raw_read_that_stalls_is_abandoned_and_parsing_resumes():
    engine, fake, _ = modem()
    got = []
    engine.on_urc('+QIURC: "recv"', lambda line, data: got.append(data), _recv_len)
    fake.send(b'\r\n+QIURC: "recv",0,100\r\nabc')
    engine.poll(10)
    engine.idle(3000)
    assert got == [None] and engine.raw_dropped == 1, (got, engine.counters())
    fake.expect(b"AT\r", b"\r\nOK\r\n")
    assert engine.command("AT").ok


def test_urc_queue_is_bounded():
    engine, fake, _ = modem()
    urcs = _collect(engine, "+CSCON:")
    fake.expect(b"AT+CGATT=1\r", b"\r\n+CSCON:1\r\n" * 20, b"\r\nOK\r\n")
    assert engine.command("AT+CGATT=1").ok
    assert len(urcs) == 16 and engine.urcs_dropped == 4, (len(urcs), engine.counters())


def test_urc_handler_may_not_send_commands():
    engine, fake, _ = modem()
    engine.on_urc("+NSONMI:", lambda line, data: engine.command("AT+NSORF=1,12", ""))
    fake.send(b"\r\n+NSONMI:1,12\r\n")
    try:
        engine.poll(10)
    except RuntimeError:
        return
    raise AssertionError("a URC handler issued a command")


def test_unknown_lines_with_no_command_are_counted_not_fatal():
    engine, fake, _ = modem()
    fake.send(b"\r\nBoot: Unsigned\r\n\r\nOK\r\n")
    engine.poll(10)
    assert engine.dropped == 2, engine.counters()


def test_counters_are_reported_by_name():
    engine, fake, _ = modem()
    fake.expect(b"AT\r", b"\r\nOK\r\n")
    engine.command("AT")
    c = engine.counters()
    assert c["commands"] == 1 and c["bytes_out"] == 3 and c["bytes_in"] == 6, c


class _Chatterbox:
    # A modem stuck sending "+CSCON:1" forever: read() never runs dry.

    def __init__(self, clock):
        self.clock = clock

    def write(self, data):
        return len(data)

    def read(self, n):
        self.clock.advance(1)  # each read takes a little time
        return b"\r\n+CSCON:1\r\n"

    def wait(self, timeout_ms):
        return True

    def close(self):
        pass


def test_a_modem_that_never_stops_talking_still_times_out():
    from nbkit.at.engine import Engine
    from nbkit.hal.clock import ManualClock

    clock = ManualClock()
    engine = Engine(_Chatterbox(clock), clock)
    urcs = _collect(engine, "+CSCON:")
    reply = engine.command("AT", None, 200)
    assert reply.result == RESULT_TIMEOUT, reply
    assert len(urcs) >= 190 and engine.urcs_dropped == 0, (len(urcs), engine.counters())
