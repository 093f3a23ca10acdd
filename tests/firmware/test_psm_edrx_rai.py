# PSM / eDRX / RAI command builders and response parsers (pure), in MicroPython.
from nbkit.lte import edrx, psm, rai

HEAPSIZE = "64K"


def _raises(fn, *args):
    try:
        fn(*args)
    except ValueError as exc:
        assert str(exc)
        return
    raise AssertionError("no ValueError for %r" % (args,))


def test_cpsms_request_rounds_up_and_reports_the_values_asked_for():
    cmd, tau, active = psm.request(70 * 3600, 10)
    assert cmd == 'AT+CPSMS=1,,,"01000111","00000101"', cmd
    assert (tau, active) == (70 * 3600, 10), (tau, active)
    cmd, tau, active = psm.request(3600 + 1, 45)
    assert cmd == 'AT+CPSMS=1,,,"00000111","00010111"', cmd
    assert (tau, active) == (4200, 46), (tau, active)


def test_cpsms_cmd_rejects_malformed_bits():
    _raises(psm.cpsms_cmd, "0100011", "00000101")
    _raises(psm.cpsms_cmd, "01000111", "0000010x")


def test_cpsms_read_is_parsed_with_or_without_space_and_quotes():
    assert psm.parse_cpsms('+CPSMS:1,,,"01000111","00000101"') == (1, "01000111", "00000101")
    assert psm.parse_cpsms("+CPSMS: 1,,,01000111,00000101\r\n") == (1, "01000111", "00000101")
    assert psm.parse_cpsms("+CPSMS:0") == (0, None, None)
    assert psm.parse_cpsms(b"+CPSMS: 0,,,,") == (0, None, None)


def test_cpsms_read_rejects_garbage():
    _raises(psm.parse_cpsms, "+CEREG:1")
    _raises(psm.parse_cpsms, "+CPSMS:x,,,")
    _raises(psm.parse_cpsms, '+CPSMS:1,,,"0100",""')


def test_psm_grant_follows_the_network_not_the_request():
    # requested 70 h / 10 s, the network granted 1 h / 4 min (the CEREG n=4 fields)
    assert psm.grant("00100100", "00100001") == (True, 240, 3600)
    assert psm.grant("00000000", "01000111") == (True, 0, 70 * 3600)


def test_psm_denied_when_active_time_absent_or_deactivated():
    assert psm.grant("11100000", "01000111") == (False, None, 70 * 3600)
    assert psm.grant(None, None) == (False, None, None)
    assert psm.grant("", "") == (False, None, None)


def test_psm_granted_without_t3412_ext_leaves_tau_unknown():
    assert psm.grant("00000101", None) == (True, 10, None)


def test_cedrxs_builders():
    assert edrx.cedrxs_cmd("0101") == 'AT+CEDRXS=2,5,"0101"'
    assert edrx.cedrxs_off() == "AT+CEDRXS=0,5"
    assert edrx.request(60) == ('AT+CEDRXS=2,5,"0101"', 81920)
    assert edrx.request(60, 4, 1) == ('AT+CEDRXS=1,4,"0100"', 61440)
    _raises(edrx.cedrxs_cmd, "010")


def test_nptwedrxs_builder_sets_ptw_and_cycle():
    assert edrx.nptwedrxs_cmd("0011", "0101") == 'AT+NPTWEDRXS=2,5,"0011","0101"'
    assert edrx.request_with_ptw(81.92, 10) == ('AT+NPTWEDRXS=2,5,"0011","0101"', 81920, 10240)


def test_cedrxp_urc_is_parsed_and_granted_value_read_as_the_network_does():
    parsed = edrx.parse_cedrxp('+CEDRXP: 5,"0101","0100","0011"')
    assert parsed == (5, "0101", "0100", "0011"), parsed
    # the network sent 0100, which NB-S1 reads as 0010 = 20.48 s
    assert edrx.granted(parsed) == (20480, 10240), edrx.granted(parsed)
    assert edrx.parse_cedrxp("+CEDRXP:5") == (5, None, None, None)
    assert edrx.granted(edrx.parse_cedrxp("+CEDRXP:5,0101")) is None


def test_cedrxrdp_response_is_parsed_and_act_0_means_not_used():
    parsed = edrx.parse_cedrxrdp('+CEDRXRDP: 5,"0101","1001","0111"')
    assert edrx.granted(parsed) == (163840, 20480), parsed
    assert edrx.granted(edrx.parse_cedrxrdp("+CEDRXRDP: 0")) is None
    assert edrx.granted(edrx.parse_cedrxrdp('+CEDRXRDP:5,"0101","0000","0011"')) is None


def test_edrx_parsers_reject_garbage():
    _raises(edrx.parse_cedrxp, "+CEDRXRDP: 5")
    _raises(edrx.parse_cedrxp, '+CEDRXP: 5,"0101","01x0"')
    _raises(edrx.parse_cedrxrdp, "+CEDRXRDP: ,")
    _raises(edrx.parse_cedrxp, "+CEDRXP:" + ",0" * 40)


def test_rai_flag_only_on_the_last_uplink_of_a_cycle():
    assert rai.nsostf_flag(True, False) == 0x200
    assert rai.nsostf_flag(True, True) == 0x400
    assert rai.nsostf_flag(False, False) == 0
    assert rai.nsostf_flag(False, True) == 0
    assert [rai.flag_text(f) for f in (0, 0x200, 0x400)] == ["0", "0x200", "0x400"]
