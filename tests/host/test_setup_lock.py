"""`make setup` run twice at once in one clone: the second waits for the first, then does nothing.

The real Makefile runs against a stand-in interpreter (PYTHON=...) whose venv's pip logs when
each install starts and ends and takes a moment, so two unlocked setups would overlap.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAKE_PYTHON = r"""#!/bin/sh
# stand-in for python3: `-m venv DIR` makes DIR/bin/{python,micropython}
[ "$1" = "-m" ] && [ "$2" = "venv" ] || exit 2
mkdir -p "$3/bin"
cat > "$3/bin/python" <<'PY'
#!/bin/sh
echo "start $$ $*" >> "$(dirname "$0")/../../pip.log"
sleep 1
echo "end $$" >> "$(dirname "$0")/../../pip.log"
PY
printf '#!/bin/sh\necho MicroPython fake ready\n' > "$3/bin/micropython"
chmod +x "$3/bin/python" "$3/bin/micropython"
"""


@pytest.mark.skipif(not shutil.which("make") or not shutil.which("flock"), reason="make/flock")
def test_two_setups_at_once_run_one_after_the_other(tmp_path):
    for name in ("Makefile", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    cmd = ["make", "--no-print-directory", "-C", str(tmp_path), "setup", f"PYTHON={fake}"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outs = [p.communicate(timeout=60)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    log = (tmp_path / "pip.log").read_text().splitlines()
    # every install ran to its end before the next began, and only one setup installed anything
    assert [line.split()[0] for line in log] == ["start", "end"] * (len(log) // 2), log
    installs = [line for line in log if " -r " in line]
    assert len(installs) == 1, log
    assert "waiting for it to finish" in "".join(outs), outs
    assert (tmp_path / ".venv" / ".nbkit-setup").exists()
