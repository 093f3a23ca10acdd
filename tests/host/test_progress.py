"""Progress: a bar redrawn in place on a terminal, plain lines (no CR) in a log."""

from __future__ import annotations

import io

from host_tools.device.progress import Progress


def test_a_log_gets_one_plain_line_per_ten_percent_and_no_carriage_return() -> None:
    out = io.StringIO()
    bar = Progress(1000, stream=out)
    for i in range(100):
        bar.advance(10, f"file{i}.mpy")
    bar.close()
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 11  # the start, then one line per 10 %
    assert lines[0] == "    1% file0.mpy" and lines[1] == "   10% file9.mpy"
    assert lines[-1] == "  100% file99.mpy"


def test_a_terminal_gets_a_bar_redrawn_in_place_and_one_final_newline() -> None:
    out = io.StringIO()
    bar = Progress(4, stream=out, tty=True)
    for name in "abcd":
        bar.advance(1, name)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 1
    assert "[" + "#" * 30 + "] 100% d" in text


def test_disabled_progress_prints_nothing() -> None:
    out = io.StringIO()
    bar = Progress(10, enabled=False, stream=out)
    bar.advance(10, "x")
    bar.close()
    assert out.getvalue() == ""
