"""The stored service PIN's hash: nbkit.proto.auth.pbkdf2_sha256 is RFC 8018 PBKDF2-HMAC-SHA256,
the same bytes as CPython's hashlib (the stored form: tests/firmware/test_service_store.py)."""

from __future__ import annotations

import hashlib

import pytest
from nbkit.proto import auth


@pytest.mark.parametrize(
    ("secret", "salt", "rounds", "size"),
    [(b"482913", b"0123456789abcdef", 4096, 32), (b"p" * 80, b"s", 3, 16), (b"", b"", 1, 32)],
)
def test_pbkdf2_matches_cpython(secret: bytes, salt: bytes, rounds: int, size: int) -> None:
    expected = hashlib.pbkdf2_hmac("sha256", secret, salt, rounds, size)
    assert auth.pbkdf2_sha256(secret, salt, rounds, size) == expected
