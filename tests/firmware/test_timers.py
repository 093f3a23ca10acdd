# T3412 / T3324 / eDRX / PTW codecs against the 3GPP vectors of timer_vectors.py, in MicroPython.
# The very same vectors run under CPython in tests/host/test_timer_vectors.py.
import timer_vectors as V
from nbkit.lte import timers

HEAPSIZE = "64K"


def _raises(fn, *args):
    try:
        fn(*args)
    except ValueError as exc:
        assert str(exc), "empty error message"
        return str(exc)
    raise AssertionError("no ValueError for %r" % (args,))


def test_t3412_decodes_the_3gpp_vectors():
    for bits, seconds in V.T3412_DECODE:
        assert timers.decode_t3412(bits) == seconds, (bits, timers.decode_t3412(bits), seconds)


def test_t3412_320h_unit_reads_as_1h_without_integrity_protection():
    assert timers.decode_t3412("11000010") == 640 * 3600
    assert timers.decode_t3412("11000010", False) == 2 * 3600


def test_t3412_encodes_rounding_up_and_reports_what_was_obtained():
    for want, bits, got in V.T3412_ENCODE:
        assert timers.encode_t3412(want) == (bits, got), (want, timers.encode_t3412(want))


def test_t3412_impossible_requests_raise_a_clear_error():
    for want in V.T3412_IMPOSSIBLE:
        _raises(timers.encode_t3412, want)
    assert "exceeds" in _raises(timers.encode_t3412, 9920 * 3600 + 1)


def test_t3324_decodes_the_3gpp_vectors():
    for bits, seconds in V.T3324_DECODE:
        assert timers.decode_t3324(bits) == seconds, (bits, timers.decode_t3324(bits), seconds)


def test_t3324_encodes_rounding_up_and_reports_what_was_obtained():
    for want, bits, got in V.T3324_ENCODE:
        assert timers.encode_t3324(want) == (bits, got), (want, timers.encode_t3324(want))


def test_t3324_impossible_requests_raise_a_clear_error():
    for want in V.T3324_IMPOSSIBLE:
        _raises(timers.encode_t3324, want)


def test_encoded_values_decode_back_to_what_was_obtained():
    for want in (1, 2, 59, 61, 600, 3599, 86400, 1000000):
        bits, got = timers.encode_t3412(want)
        assert timers.decode_t3412(bits) == got >= want, (want, bits, got)
    for want in (0, 1, 3, 61, 1000, 11000):
        bits, got = timers.encode_t3324(want)
        assert timers.decode_t3324(bits) == got >= want, (want, bits, got)


def test_edrx_decodes_nb_and_wb_tables_including_read_as_values():
    for act, bits, ms in V.EDRX_DECODE:
        assert timers.decode_edrx_ms(bits, act) == ms, (
            act,
            bits,
            timers.decode_edrx_ms(bits, act),
        )
    for act, bits, used in V.EDRX_READ_AS:
        assert timers.edrx_read_as(bits, act) == used, (act, bits, timers.edrx_read_as(bits, act))


def test_edrx_encodes_only_values_the_network_reads_as_sent():
    for act, want, bits, ms in V.EDRX_ENCODE:
        assert timers.encode_edrx(want, act) == (bits, ms), (
            act,
            want,
            timers.encode_edrx(want, act),
        )
        assert timers.edrx_read_as(bits, act) == bits, bits
    for act, want in V.EDRX_IMPOSSIBLE:
        _raises(timers.encode_edrx, want, act)


def test_ptw_decodes_and_encodes():
    for act, bits, ms in V.PTW_DECODE:
        assert timers.decode_ptw_ms(bits, act) == ms, (act, bits, timers.decode_ptw_ms(bits, act))
    for act, want, bits, ms in V.PTW_ENCODE:
        assert timers.encode_ptw(want, act) == (bits, ms), (
            act,
            want,
            timers.encode_ptw(want, act),
        )
    for act, want in V.PTW_IMPOSSIBLE:
        _raises(timers.encode_ptw, want, act)


def test_malformed_bit_strings_and_unknown_act_raise_value_error():
    for bits in V.MALFORMED_BITS:
        _raises(timers.decode_t3412, bits)
        _raises(timers.decode_t3324, bits)
    for bits in ("010", "01011", "01x1", None):
        _raises(timers.decode_edrx_ms, bits, 5)
        _raises(timers.decode_ptw_ms, bits, 5)
    _raises(timers.decode_edrx_ms, "0101", 9)
    _raises(timers.encode_edrx, 20, 7)
    _raises(timers.encode_t3324, "10")
