"""The dashboard's session cookie and CSRF tokens (vtn/dashboard/session.py): what a forged,
altered, expired or foreign cookie gets (no session), and where a login may send the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vtn.dashboard.auth import _safe_next
from vtn.dashboard.session import SessionCodec

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
HASH = "ab" * 32
CODEC = SessionCodec("a secret of some length", timedelta(hours=12))


def test_an_issued_cookie_reads_back_until_it_expires() -> None:
    session, cookie = CODEC.issue(HASH, NOW)
    assert CODEC.read(cookie, NOW + timedelta(hours=11)) == session
    assert session.token_hash == HASH and session.expires_at == NOW + timedelta(hours=12)
    assert CODEC.read(cookie, NOW + timedelta(hours=12)) is None


def test_a_cookie_altered_or_signed_with_another_key_is_no_session() -> None:
    _, cookie = CODEC.issue(HASH, NOW)
    token_hash, expires, nonce, signature = cookie.split(".")
    later = str(int(expires) + 86400)
    for forged in (
        f"{'cd' * 32}.{expires}.{nonce}.{signature}",  # another token's hash
        f"{token_hash}.{later}.{nonce}.{signature}",  # a longer life
        f"{token_hash}.{expires}.{nonce}.{'0' * 64}",
        SessionCodec("another secret, same length", timedelta(hours=12)).issue(HASH, NOW)[1],
        "",
        "garbage",
        cookie + ".x",
        "x" * 1000,
    ):
        assert CODEC.read(forged, NOW) is None, forged


def test_the_csrf_token_belongs_to_its_session() -> None:
    first, _ = CODEC.issue(HASH, NOW)
    second, _ = CODEC.issue(HASH, NOW)
    assert CODEC.csrf_ok(first.nonce, CODEC.csrf_token(first.nonce))
    assert not CODEC.csrf_ok(first.nonce, CODEC.csrf_token(second.nonce))
    assert not CODEC.csrf_ok(first.nonce, None)
    assert not CODEC.csrf_ok(first.nonce, "")


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [
        ("/dashboard/events", "/dashboard/events"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("/dashboard/\\evil", "/dashboard/"),
        ("/api/v1/vens", "/dashboard/"),
        (None, "/dashboard/"),
    ],
)
def test_a_login_only_goes_on_to_a_dashboard_page(target: str | None, goes_to: str) -> None:
    assert _safe_next(target) == goes_to
