"""The dashboard's session cookie and CSRF tokens: HMAC-signed, stateless, with an expiry.

The cookie holds the SHA-256 of the operator's API token (never the token), the session's expiry
and a random nonce, signed with settings.dashboard_secret: `hash.expires.nonce.signature`. Every
request looks the token up by that hash, so revoking the token ends its sessions at once. The
CSRF token of a session is an HMAC of its nonce (a hidden field in every form, checked on every
POST); the login form, before any session, is tied to a random pre-login cookie the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_COOKIE = "fvp_dashboard"
LOGIN_COOKIE = "fvp_dashboard_login"  # the pre-login nonce the login form's CSRF token is tied to
CSRF_FIELD = "csrf_token"
_HASH = re.compile(r"[0-9a-f]{64}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str  # SHA-256 (hex) of the operator's API token
    expires_at: datetime
    nonce: str


class SessionCodec:
    """Signs and checks session cookies and derives CSRF tokens, with one secret key."""

    def __init__(self, secret: str, lifetime: timedelta) -> None:
        self._key = hashlib.sha256(b"flexvpp-dashboard\0" + secret.encode("utf-8")).digest()
        self.lifetime = lifetime

    def _sign(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()

    def issue(self, token_hash: str, now: datetime) -> tuple[Session, str]:
        """A new session for the token with this hash, and its cookie value."""
        expires = int((now + self.lifetime).timestamp())
        session = Session(token_hash, datetime.fromtimestamp(expires, now.tzinfo), secrets.token_urlsafe(24))
        payload = f"{token_hash}.{expires}.{session.nonce}"
        return session, f"{payload}.{self._sign('session', payload)}"

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie carries; None if absent, malformed, forged or expired."""
        if not cookie or len(cookie) > 300:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        token_hash, expires, nonce, signature = parts
        if not (_HASH.fullmatch(token_hash) and expires.isdigit() and _NONCE.fullmatch(nonce)):
            return None
        if not hmac.compare_digest(signature, self._sign("session", f"{token_hash}.{expires}.{nonce}")):
            return None
        expires_at = datetime.fromtimestamp(int(expires), now.tzinfo)
        if expires_at <= now:
            return None
        return Session(token_hash, expires_at, nonce)

    def csrf_token(self, nonce: str) -> str:
        """The CSRF token of the session (or pre-login cookie) with this nonce."""
        return self._sign("csrf", nonce)

    def csrf_ok(self, nonce: str, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given, self.csrf_token(nonce))

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)
