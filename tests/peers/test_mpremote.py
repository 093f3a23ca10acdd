"""mpremote 1.29.0 (pinned), a real subprocess, drives the virtual board as it drives a board.

Each test states the output a board gives; tests/peers/README.md lists the scenarios and the
documented differences from a real board.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.peers.conftest import Mpremote

pytestmark = pytest.mark.e2e

HELLO = 'print("Hello")\nprint("World")\n'


def tree(root: Path) -> dict[str, str]:
    """Every file under root as {relative path: text}."""
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def make_package(at: Path, y_says: str = "y") -> Path:
    """A local package with a subpackage: package/{__init__,x}.py, package/sub/{__init__,y}.py."""
    pkg = at / "package"
    (pkg / "sub").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("from .x import x\nfrom .sub import y\n")
    (pkg / "x.py").write_text("def x():\n    print('x')\n")
    (pkg / "sub" / "__init__.py").write_text("from .y import y\n")
    (pkg / "sub" / "y.py").write_text(f"def y():\n    print({y_says!r})\n")
    return pkg


def test_an_empty_flash_lists_nothing_at_the_root(mpremote: Mpremote) -> None:
    assert mpremote("fs", "ls", ":/") == "ls :/\n"


def test_mkdir_cp_to_the_board_ls_cat_and_import(mpremote: Mpremote, tmp_path: Path) -> None:
    src = tmp_path / "a.py"
    src.write_text(HELLO)
    out = mpremote(
        *("fs", "mkdir", ":aaa", "+", "fs", "cp", str(src), ":", "+"),
        *("fs", "cp", str(src), ":aaa/b.py", "+", "fs", "cp", ":a.py", ":c.py"),
    )
    assert out == f"mkdir :aaa\ncp {src} :\ncp {src} :aaa/b.py\ncp :a.py :c.py\n"
    assert mpremote("fs", "ls", ":/", ":aaa") == (
        "ls :/\n          30 a.py\n           0 aaa/\n          30 c.py\n"
        "ls :aaa\n          30 b.py\n"
    )
    assert mpremote("fs", "cat", ":aaa/b.py") == HELLO
    assert mpremote("exec", "import a, c") == "Hello\nWorld\nHello\nWorld\n"
    digest = mpremote("sha256sum", ":c.py").splitlines()[-1]
    assert digest == hashlib.sha256(HELLO.encode()).hexdigest()


def test_cp_from_the_board_and_rm_rmdir(mpremote: Mpremote, tmp_path: Path) -> None:
    src = tmp_path / "a.py"
    src.write_text(HELLO)
    mpremote("fs", "mkdir", ":d", "+", "fs", "cp", str(src), ":d/a.py")
    mpremote("fs", "cp", ":d/a.py", str(tmp_path / "back.py"))
    assert (tmp_path / "back.py").read_text() == HELLO
    (tmp_path / "here").mkdir()
    mpremote("fs", "cp", ":d/a.py", str(tmp_path / "here") + "/")  # into a directory
    assert (tmp_path / "here" / "a.py").read_text() == HELLO
    # a file is not a directory: cp to `a.py/` is refused, nothing is written
    refused = mpremote.fails("fs", "cp", str(src), ":d/a.py/")
    assert refused.stderr.startswith("mpremote: cp: "), refused.stderr
    mpremote("fs", "rm", ":d/a.py", "+", "fs", "rmdir", ":d")
    assert mpremote("fs", "ls", ":/") == "ls :/\n"


def test_recursive_cp_to_the_board_into_a_new_or_existing_directory(
    mpremote: Mpremote, tmp_path: Path
) -> None:
    pkg = make_package(tmp_path)
    mpremote("fs", "cp", "-r", str(pkg), ":")  # to the root: :package
    mpremote("fs", "cp", "-r", str(pkg), ":pkg2")  # to a new name: the copy is :pkg2
    mpremote("fs", "mkdir", ":test", "+", "fs", "cp", "-r", str(pkg), ":test")  # inside :test
    mpremote("fs", "cp", "-r", ":package", ":pkg3")  # board to board
    size = {name: len(text) for name, text in tree(pkg).items()}
    assert mpremote("fs", "ls", ":", ":package", ":package/sub", ":test") == (
        "ls :\n           0 package/\n           0 pkg2/\n           0 pkg3/\n           0 test/\n"
        f"ls :package\n{size['__init__.py']:12} __init__.py\n           0 sub/\n"
        f"{size['x.py']:12} x.py\n"
        f"ls :package/sub\n{size['sub/__init__.py']:12} __init__.py\n{size['sub/y.py']:12} y.py\n"
        "ls :test\n           0 package/\n"
    )
    code = "import {0}; {0}.x(); {0}.y()"
    for name in ("package", "pkg2", "pkg3"):
        assert mpremote("exec", code.format(name)) == "x\ny\n", name
    inside = "import os; os.chdir('/test'); import package; print(package.__file__); package.y()"
    assert mpremote("exec", inside) == "package/__init__.py\ny\n"
    # the same copy again with one file changed: the board runs the new file
    make_package(tmp_path, y_says="y2")
    mpremote("fs", "cp", "-r", str(pkg), ":")
    assert mpremote("exec", code.format("package")) == "x\ny2\n"


def test_recursive_cp_from_the_board(mpremote: Mpremote, tmp_path: Path) -> None:
    pkg = make_package(tmp_path / "src")
    mpremote("fs", "cp", "-r", str(pkg), ":")
    copy = tmp_path / "copy"
    copy.mkdir()
    mpremote("fs", "cp", "-r", ":package", str(copy))  # an existing directory: inside it
    mpremote("fs", "cp", "-r", ":package", str(copy / "renamed"))  # a new name
    assert tree(copy / "package") == tree(pkg)
    assert tree(copy / "renamed") == tree(pkg)
    assert sorted(p.name for p in copy.iterdir()) == ["package", "renamed"]


def test_rm_r_root_empties_the_flash_and_the_frozen_app_stays_unlisted_but_importable(
    mpremote: Mpremote, tmp_path: Path
) -> None:
    src = tmp_path / "x.py"
    src.write_text("X = 1\n")
    mpremote("cp", str(src), ":x.py", "+", "mkdir", ":d", "+", "cp", str(src), ":d/y.py")
    listing = mpremote("exec", "import os; print(sorted(os.listdir('/')))")
    assert listing == "['d', 'x.py']\n"  # no .frozen, as on a board built with a manifest
    done = mpremote.fails("rm", "-r", ":/")
    # what a real board says: the root is a mount point; everything in it is gone
    assert done.stderr == "mpremote: rm -r: cannot remove :/ Operation not permitted\n"
    assert mpremote("ls", ":/") == "ls :/\n"
    out = mpremote(
        "exec",
        "import os, nbkit.proto.frame as f; open('w.txt', 'w').write('ok'); "
        "print(os.listdir('/'), f.__file__)",
    )
    assert out == "['w.txt'] /.frozen/nbkit/proto/frame.py\n"


def test_exec_eval_and_run_a_local_file(mpremote: Mpremote, tmp_path: Path) -> None:
    assert mpremote("exec", "print('mpremote')") == "mpremote\n"
    assert mpremote("eval", "1+2") == "3\n"
    assert mpremote("eval", "[{'a': 'b'}, (1,2,3,), True]") == "[{'a': 'b'}, (1, 2, 3), True]\n"
    script = tmp_path / "count.py"
    script.write_text("for i in range(3):\n    print('run', i)\n")
    assert mpremote("run", str(script)) == "run 0\nrun 1\nrun 2\n"
    failed = mpremote.fails("exec", "1/0")
    assert failed.stdout.endswith("ZeroDivisionError: divide by zero\n"), failed.stdout


def test_state_lasts_within_a_run_and_with_resume_and_a_soft_reset_clears_it(
    mpremote: Mpremote,
) -> None:
    assert mpremote("exec", "a = 'hello'", "eval", "a") == "hello\n"
    # the first command of every run soft-resets the board: `a` is gone
    assert mpremote("eval", "'a' in globals()") == "False\n"
    mpremote("exec", "a = 'resume'")
    assert mpremote("resume", "eval", "a") == "resume\n"
    out = mpremote(
        *("exec", "a = 'soft-reset'", "eval", "a", "soft-reset"),
        *("eval", "1+1", "eval", "'a' in globals()"),
    )
    assert out == "soft-reset\n2\nFalse\n"


# a filesystem mounted at /err whose open() raises the OSError the test chooses
ERROR_FS = """\
import os, vfs
class RefusingFS:
    code = 0
    def mount(self, readonly, mkfs): pass
    def umount(self): pass
    def chdir(self, path): pass
    def open(self, path, mode): raise OSError(self.code)
refusing = RefusingFS()
vfs.mount(refusing, '/err')
"""


def test_a_missing_file_is_errno_2_enoent_and_other_errnos_get_their_messages(
    mpremote: Mpremote,
) -> None:
    failed = mpremote.fails("exec", "open('missing.txt')")
    assert failed.stdout.endswith("OSError: [Errno 2] ENOENT\n"), failed.stdout
    failed = mpremote.fails("fs", "cat", ":missing.txt")
    assert failed.stderr == "mpremote: cat: missing.txt: No such file or directory.\n"
    mpremote("exec", ERROR_FS)
    messages = {
        "ENOENT": "No such file or directory",
        "EISDIR": "Is a directory",
        "EEXIST": "File exists",
        "EACCES": "Permission denied",
        "EINVAL": "Invalid argument",
    }
    for name, message in messages.items():
        failed = mpremote.fails(
            "resume", "exec", f"import errno; refusing.code = errno.{name}", "cat", ":/err/f.py"
        )
        assert failed.stderr == f"mpremote: cat: /err/f.py: {message}.\n", name
    mpremote("resume", "exec", "vfs.umount('/err')")


UNICODE = "Hello 世界\nEmoji: 🎉🐍\nCafé résumé naïve\n"


def test_unicode_output_file_names_and_content(mpremote: Mpremote, tmp_path: Path) -> None:
    out = mpremote("exec", "print('Hello 世界'); print('Emoji: 🎉🐍'); print('Accents: café')")
    assert out == "Hello 世界\nEmoji: 🎉🐍\nAccents: café\n"
    assert mpremote("exec", "x = 'a=b'; print(x)") == "a=b\n"  # `=` is not an mpremote macro
    assert mpremote("eval", "'Hello 世界'") == "Hello 世界\n"
    src = tmp_path / "unicode.txt"
    src.write_text(UNICODE)
    mpremote("touch", ":quote'test.txt", "+", "cp", str(src), ":日本.txt")
    size = len(UNICODE.encode())
    assert mpremote("ls", ":") == f"ls :\n           0 quote'test.txt\n{size:12} 日本.txt\n"
    assert mpremote("cat", ":日本.txt") == UNICODE
    digest = mpremote("sha256sum", ":日本.txt").splitlines()[-1]
    assert digest == hashlib.sha256(UNICODE.encode()).hexdigest()
    mpremote("cp", ":日本.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == src.read_bytes()
    mpremote("rm", ":quote'test.txt", "+", "rm", ":日本.txt")
    assert mpremote("ls", ":") == "ls :\n"
    # documented difference: this MicroPython build's repr() escapes non-ASCII
    # (a board on a release that prints it gives '日本語')
    assert mpremote("eval", "repr('日本語')") == "'\\u65e5\\u672c\\u8a9e'\n"


def test_mount_lets_the_board_write_unicode_into_a_local_directory(
    mpremote: Mpremote, tmp_path: Path
) -> None:
    (tmp_path / "write.py").write_text(
        "with open('foo.txt', 'w') as f:\n    f.write('🔢 Data\\n🔢 Data\\n')\n"
        "print(open('foo.txt').read())\n"
    )
    out = mpremote("mount", str(tmp_path), "exec", "import write")
    assert "🔢 Data\n🔢 Data\n" in out.replace("\r\n", "\n"), out
    assert f"Local directory {tmp_path} is mounted at /remote" in out
    assert (tmp_path / "foo.txt").read_text() == "🔢 Data\n🔢 Data\n"


def test_mip_installs_a_package_from_a_local_path(mpremote: Mpremote, tmp_path: Path) -> None:
    pkg = tmp_path / "example" / "mip_example"
    pkg.mkdir(parents=True)
    (pkg / "hello.py").write_text("def hello():\n    print('Hello, world!')\n")
    (pkg / "__init__.py").write_text("from .hello import hello\n")
    (pkg.parent / "package.json").write_text(
        '{"urls": [["mip_example/__init__.py", "mip_example/__init__.py"],'
        ' ["mip_example/hello.py", "mip_example/hello.py"]], "version": "0.2"}\n'
    )
    # no --target: mip installs into the first `lib` directory on the board's sys.path
    out = mpremote("mip", "install", str(pkg.parent / "package.json"))
    assert "Installing: /lib/mip_example/hello.py" in out, out
    assert mpremote("exec", "import mip_example; mip_example.hello()") == "Hello, world!\n"
