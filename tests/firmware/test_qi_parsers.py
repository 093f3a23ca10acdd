# The QI-stack parsers and builders (nbkit.lte.qi): EC200/EC600 and BC26 formats.
from nbkit.lte import qi


def test_qiurc_recv_with_and_without_length():
    u = qi.parse_qiurc('+QIURC: "recv",3,120')
    assert (u.kind, u.sock, u.length) == ("recv", 3, 120), u
    u = qi.parse_qiurc('+QIURC: "recv",1')
    assert (u.kind, u.sock, u.length) == ("recv", 1, None), u
    assert qi.recv_len('+QIURC: "recv",3,120') == 120
    assert qi.recv_len('+QIURC: "recv",1') == 0
    assert qi.recv_len('+QIURC: "closed",1') == 0


def test_qiurc_closed_pdpdeact_and_garbage():
    assert qi.parse_qiurc('+QIURC: "closed",4').sock == 4
    u = qi.parse_qiurc('+QIURC: "pdpdeact",1')
    assert (u.kind, u.sock) == ("pdpdeact", 1), u
    assert qi.parse_qiurc('+QIURC: "closed"') is None
    assert qi.parse_qiurc("+QIOPEN: 0,0") is None


def test_qiurc_dnsgip_header_address_and_error():
    u = qi.parse_qiurc('+QIURC: "dnsgip",0,2,600')
    assert (u.err, u.count, u.ttl, u.ip) == (0, 2, 600, None), u
    u = qi.parse_qiurc('+QIURC: "dnsgip","10.1.2.3"')
    assert (u.err, u.ip) == (None, "10.1.2.3"), u
    u = qi.parse_qiurc('+QIURC: "dnsgip",565')
    assert (u.err, u.count) == (565, None), u


def test_qiopen_qiact_qird_cpin():
    assert qi.parse_qiopen("+QIOPEN: 0,0") == (0, 0)
    assert qi.parse_qiopen("+QIOPEN: 2,566") == (2, 566)
    assert qi.parse_qiopen("+QIOPEN: 2") is None
    assert qi.parse_qiact('+QIACT: 1,1,1,"10.7.157.1"') == (1, True, "10.7.157.1")
    assert qi.parse_qiact("+QIACT: 2,0,1") == (2, False, None)
    assert qi.qird_len("+QIRD: 17") == 17
    assert qi.qird_len('+QIRD: 5,"10.0.0.1",7000') == 5
    try:
        qi.qird_len("+QIRD: x")
    except ValueError:
        pass
    else:
        raise AssertionError("a garbled +QIRD line must raise")
    assert qi.parse_cpin("+CPIN: READY") == "READY"
    assert qi.parse_cpin("+CPIN: SIM PIN") == "SIM PIN"


def test_registration_on_lte_act_7_from_cereg_and_cgreg():
    r = qi.parse_reg('+CEREG: 2,1,"1A2B","01A2B3C4",7', read=True)
    assert r.registered and r.act == qi.ACT_EUTRAN and r.tac == 0x1A2B, r
    r = qi.parse_reg('+CGREG: 5,"00C1","0000ABCD",7,"01"')
    assert r.stat == 5 and r.registered and r.act == 7 and r.ci == 0xABCD, r
    assert not qi.parse_reg("+CGREG: 2,2", read=True).registered


def test_builders():
    assert qi.qicsgp("cmiot") == 'AT+QICSGP=1,1,"cmiot","","",0'
    assert qi.qicsgp("a", "u", "p", 2) == 'AT+QICSGP=1,1,"a","u","p",2'
    assert qi.qiopen(0, "TCP", "1.2.3.4", 7000) == 'AT+QIOPEN=1,0,"TCP","1.2.3.4",7000,0,1'
    assert qi.qiopen(5, "UDP", "h.example", 53, 0) == 'AT+QIOPEN=1,5,"UDP","h.example",53,0,0'
    assert qi.qisend(1, 24) == "AT+QISEND=1,24"
    assert qi.qidnsgip("h.example") == 'AT+QIDNSGIP=1,"h.example"'
    for bad in (
        lambda: qi.qicsgp('a"b'),
        lambda: qi.qiopen(12, "TCP", "h", 1),
        lambda: qi.qiopen(0, "SCTP", "h", 1),
        lambda: qi.qicsgp("a", auth=3),
    ):
        try:
            bad()
        except ValueError:
            continue
        raise AssertionError("accepted a bad argument")


def test_error_names_cover_550_to_574():
    for code in range(550, 575):
        assert qi.error_name(code).startswith("%d " % code), code
    assert qi.error_name(566) == "566 socket connect failed"
    assert qi.error_name(999) == "error 999"
