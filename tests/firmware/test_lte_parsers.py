# LTE feature parsers and encoders against the response forms real firmware sends.
from nbkit.lte import cereg, cscon, csq, fields, ident, nuestats, sockets


def _reg(line, read=False):
    r = cereg.parse(line, read)
    return (r.n, r.stat, r.tac, r.ci, r.act, r.cause_type, r.reject_cause) + (
        r.active_time,
        r.periodic_tau,
    )


def test_cereg_urc_stat_only():
    assert _reg("+CEREG:1")[:3] == (None, 1, None), _reg("+CEREG:1")
    assert cereg.parse("+CEREG: 2").stat == cereg.STAT_SEARCHING


def test_cereg_huawei_unquoted_no_space():
    # BC68 log, n=2 URCs
    assert _reg("+CEREG:0,0000,00000000,9")[:5] == (None, 0, 0, 0, 9)
    assert _reg("+CEREG:5,0216,0153803F,9")[:5] == (None, 5, 0x216, 0x153803F, 9)


def test_cereg_read_form_has_n_first():
    assert _reg("+CEREG:2,1,77C3,D2A3152,7", read=True)[:5] == (2, 1, 0x77C3, 0xD2A3152, 7)
    got = _reg('+CEREG: 2,1,"3a9b","0000c33d",7', read=True)
    assert got[:5] == (2, 1, 0x3A9B, 0xC33D, 7), got


def test_cereg_n4_read_form_with_empty_cause_and_timer_bit_strings():
    got = _reg('+CEREG: 4,1,"0000","00000000",9,,,"00100100","01000111"', read=True)
    assert got == (4, 1, 0, 0, 9, None, None, "00100100", "01000111"), got


def test_cereg_n5_urc_with_cause_and_timers():
    got = _reg('+CEREG:1,"1A2B","0012BEEF",9,0,0,"00000101","00111000"')
    assert got == (None, 1, 0x1A2B, 0x12BEEF, 9, 0, 0, "00000101", "00111000"), got


def test_cereg_n3_denied_with_reject_cause():
    got = _reg('+CEREG: 3,"0001","00000002",9,0,15')
    assert got[1] == 3 and got[5:7] == (0, 15), got


def test_cereg_missing_trailing_fields_and_empty_tac():
    got = _reg("+CEREG:1,,,9")
    assert got[:5] == (None, 1, None, None, 9), got
    assert cereg.parse("+CEREG:2,1", read=True).tac is None


def test_cereg_rejects_non_cereg_and_bad_bits():
    assert cereg.parse("+CSCON:1") is None
    assert cereg.parse("+CEREG:") is None
    assert cereg.parse('+CEREG:1,,,9,,,"0012","xx"').active_time is None


def test_cereg_registered_means_home_or_roaming():
    assert cereg.parse("+CEREG:1").registered and cereg.parse("+CEREG:5").registered
    assert not cereg.parse("+CEREG:2").registered


def test_cereg_set_command_bounds():
    assert cereg.set_cmd(5) == "AT+CEREG=5"
    try:
        cereg.set_cmd(6)
    except ValueError:
        return
    raise AssertionError("CEREG=6 accepted")


def test_cscon_urc_and_read():
    assert cscon.parse("+CSCON:1") == 1 and cscon.parse("+CSCON: 0") == 0
    assert cscon.parse("+CSCON:1,0", read=True) == 0


def test_csq_and_dbm():
    assert csq.parse("+CSQ:18,99") == (18, 99)
    assert csq.parse("+CSQ: 99,99") == (99, 99)
    assert csq.rssi_dbm(18) == -77 and csq.rssi_dbm(99) is None and csq.rssi_dbm(0) == -113


def test_nuestats_radio_lines_and_sentinels():
    lines = ["Signal power:-819", "Cell ID:125414482", "ECL:255", "PCI:226", "RSRQ:-32768", ""]
    got = nuestats.parse(lines + ["OPERATOR MODE:4"])
    assert got["Signal power"] == -819 and got["Cell ID"] == 125414482, got
    assert got["ECL"] is None and got["RSRQ"] is None and got["PCI"] == 226, got


def test_nuestats_typed_form():
    got = nuestats.parse(["NUESTATS:RADIO,Signal power,-819", "NUESTATS:CELL,EARFCN,2509"])
    assert got == {"Signal power": -819, "EARFCN": 2509}, got


def test_identity_parsers():
    assert ident.imei("+CGSN:867726031076062") == "867726031076062"
    assert ident.imei("867726031076062") == "867726031076062"
    assert ident.imei("+CGSN:") is None
    assert ident.imsi("460111175090234") == "460111175090234" and ident.imsi("OK") is None
    assert ident.iccid("+NCCID:89860317452040014000") == "89860317452040014000"
    assert ident.pdp_address("+CGPADDR:0,10.45.3.7") == (0, "10.45.3.7")
    assert ident.pdp_address('+CGPADDR: 1,"10.0.0.2"') == (1, "10.0.0.2")
    assert ident.pdp_address("+CGPADDR:0") == (0, None)
    fw = ident.firmware(["SSB,V150R100C10B200SP1", "RADIO,Hi2115_RF1"])
    assert fw == {"SSB": "V150R100C10B200SP1", "RADIO": "Hi2115_RF1"}, fw


def test_socket_commands_encode_hex_upper_case():
    assert sockets.create() == "AT+NSOCR=DGRAM,17,0,1"
    assert sockets.create(16666) == "AT+NSOCR=DGRAM,17,16666,1"
    cmd = sockets.sendto(1, "188.77.165.106", 16666, b"Hello World!")
    assert cmd == "AT+NSOST=1,188.77.165.106,16666,12,48656C6C6F20576F726C6421", cmd
    cmd = sockets.sendto(0, "1.1.1.1", 7, b"\xff", sockets.FLAG_RELEASE)
    assert cmd == "AT+NSOSTF=0,1.1.1.1,7,0x200,1,FF", cmd
    assert sockets.sendto(0, "1.1.1.1", 7, b"", 0x400).startswith("AT+NSOSTF=0,1.1.1.1,7,0x400,0")
    assert sockets.sendto(0, "1.1.1.1", 7, b"a", 0x100).split(",")[3] == "0x100"
    assert sockets.receive(1, 512) == "AT+NSORF=1,512" and sockets.close(1) == "AT+NSOCL=1"


def test_socket_bad_flag_is_refused():
    try:
        sockets.sendto(0, "1.1.1.1", 7, b"a", 0x300)
    except ValueError:
        return
    raise AssertionError("flag 0x300 accepted")


def test_socket_id_and_sent_replies():
    assert sockets.parse_socket("1") == 1 and sockets.parse_socket("+NSOCR:2") == 2
    assert sockets.parse_socket("7") is None and sockets.parse_socket("1,2") is None
    assert sockets.parse_sent("1,12") == (1, 12) and sockets.parse_sent("OK") is None


def test_nsonmi_modes_1_2_3():
    m1 = sockets.parse_nsonmi("+NSONMI:1,12")
    assert (m1.sock, m1.length, m1.data, m1.ip) == (1, 12, None, None), m1
    m2 = sockets.parse_nsonmi("+NSONMI:0,10.0.0.1,5683,2,a101")
    assert (m2.sock, m2.ip, m2.port, m2.length, m2.data) == (0, "10.0.0.1", 5683, 2, b"\xa1\x01")
    m3 = sockets.parse_nsonmi("+NSONMI: 2,3,414243")
    assert (m3.sock, m3.length, m3.data) == (2, 3, b"ABC"), m3
    assert sockets.parse_nsonmi("+NSONMI:1,3,41") is None  # hex length disagrees
    assert sockets.parse_nsonmi("+NSONMI:1") is None


def test_nsorf_reply_with_remaining_length():
    dg = sockets.parse_nsorf("1,188.77.165.106,16666,12,48656C6C6F20576F726C6421,0")
    assert (dg.sock, dg.ip, dg.port, dg.length) == (1, "188.77.165.106", 16666, 12), dg
    assert dg.data == b"Hello World!" and dg.remaining == 0, dg
    assert sockets.parse_nsorf("0,1.2.3.4,9,1,ZZ,0") is None
    assert sockets.parse_nsorf("0,1.2.3.4,9,1,00,3").remaining == 3


def test_nsocli():
    assert sockets.parse_nsocli("+NSOCLI:3") == 3 and sockets.parse_nsocli("+NSONMI:1") is None


def test_strict_split_fields_for_parsers_that_raise():
    assert fields.split_fields(b' +CPSMS: 1,,,"01000111","00000101"\r\n', "+CPSMS:") == [
        "1",
        "",
        "",
        "01000111",
        "00000101",
    ]
    assert fields.split_fields('+X:"a,b",2', "+X:") == ["a,b", "2"]  # a quoted comma stays
    assert fields.split_fields("+X: ", "+X:") == []
    assert fields.int_field(["-3"], 0, "+X") == -3
    for bad in (lambda: fields.split_fields("+Y:1", "+X:"),
                lambda: fields.split_fields("+X:" + "1," * 16 + "1", "+X:"),
                lambda: fields.int_field(["+3"], 0, "+X"),
                lambda: fields.int_field([], 0, "+X")):  # fmt: skip
        try:
            bad()
        except ValueError:
            continue
        raise AssertionError("accepted")
