"""Credentials the emulator accepts, and the OAuth2 access tokens its token endpoint issues."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass

DEFAULT_TENANT = "demo-tenant"
DEFAULT_API_KEY = "emulator-api-key"
DEFAULT_BEARER_TOKEN = "emulator-bearer-token"
DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"


@dataclass(frozen=True)
class Credentials:
    """The one tenant and the fixed secrets of the emulator (all test values, never real ones)."""

    tenant: str = DEFAULT_TENANT
    api_key: str = DEFAULT_API_KEY
    bearer_token: str = DEFAULT_BEARER_TOKEN
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET


def _same(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues random JWT-shaped access tokens and remembers until when each is valid.

    The tokens look like JWTs (three base64url parts with an ``exp`` claim) because Keycloak's are,
    but the signature is random bytes: clients must treat them as opaque, and so does the emulator.
    """

    def __init__(self, credentials: Credentials, ttl: float) -> None:
        self.credentials = credentials
        self.ttl = ttl
        self._expiry: dict[str, float] = {}  # token -> time.monotonic() deadline
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new access token valid for ``ttl`` seconds from now."""
        now = time.time()
        header = {"alg": "RS256", "typ": "JWT", "kid": "spark-emulator"}
        claims = {
            "exp": int(now + self.ttl),
            "iat": int(now),
            "jti": secrets.token_hex(8),
            "azp": self.credentials.client_id,
            "realm": self.credentials.tenant,
        }
        parts = (json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32))
        token = ".".join(_b64(part) for part in parts)
        deadline = time.monotonic() + self.ttl
        with self._lock:
            self._expiry = {t: d for t, d in self._expiry.items() if d > time.monotonic()}
            self._expiry[token] = deadline
        return token

    def is_valid(self, token: str) -> bool:
        """True for a token this issuer handed out that has not expired yet."""
        with self._lock:
            deadline = self._expiry.get(token)
        return deadline is not None and time.monotonic() < deadline

    def client_matches(self, client_id: str | None, client_secret: str | None) -> bool:
        """Check OAuth2 client credentials."""
        return _same(client_id, self.credentials.client_id) and _same(client_secret, self.credentials.client_secret)

    def api_call_allowed(self, headers: dict[str, str]) -> bool:
        """Whether an API call carries valid credentials in any of the three documented schemes."""
        if _same(headers.get("x-synthetic-key"), self.credentials.api_key):
            return _same(headers.get("x-tenant-name"), self.credentials.tenant)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return _same(token, self.credentials.bearer_token) or self.is_valid(token)
