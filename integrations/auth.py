"""How a partner request carries its credential: one small async hook per scheme.

The shared transport calls the hook on every attempt, just before sending, so a key is
never baked into a client's default headers (where it would leak into logs of other
partners' requests) and a token that expires can be refreshed between attempts. Values a
hook sets are redacted from every error message the transport builds.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx

__all__ = [
    "AccessToken",
    "ApiKeyHeader",
    "AuthHook",
    "BearerToken",
    "RefreshingToken",
    "Renewable",
    "checked_secret",
]

AuthHook = Callable[[httpx.Request], Awaitable[None]]
"""Adds credentials to a request in place (headers only: the body must stay byte-identical)."""

_SAFE_SECRET = re.compile(r"[\x21-\x7e]+")


def checked_secret(value: str, *, what: str = "api_key") -> str:
    """Refuse a key a header cannot carry safely, without ever echoing it."""
    if not value or not _SAFE_SECRET.fullmatch(value):
        raise ValueError(f"{what} is empty or contains whitespace/non-printable characters")
    return value


@runtime_checkable
class Renewable(Protocol):
    """A hook whose credential may go stale: after a 401 the transport asks it to renew
    and, when it says yes, sends the request once more (a 401 was never processed)."""

    async def renew(self, rejected: httpx.Request) -> bool: ...


class BearerToken:
    """``Authorization: Bearer <key>`` (Outgoing ``og_api_…``, Onegent ``ogk_…``)."""

    def __init__(self, key: str) -> None:
        self._key = checked_secret(key)

    async def __call__(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._key}"

    def __repr__(self) -> str:
        return "BearerToken('***')"


class ApiKeyHeader:
    """A key in its own header (AI Call Agent's ``X-API-Key``)."""

    def __init__(self, key: str, *, header: str = "X-API-Key") -> None:
        self._key = checked_secret(key)
        self._header = header

    async def __call__(self, request: httpx.Request) -> None:
        request.headers[self._header] = self._key

    def __repr__(self) -> str:
        return f"ApiKeyHeader('***', header={self._header!r})"


@dataclass(frozen=True)
class AccessToken:
    """What a login call returns; ``expires_in_s`` None means "until refused"."""

    value: str
    expires_in_s: float | None = None

    def __repr__(self) -> str:
        return f"AccessToken('***', expires_in_s={self.expires_in_s!r})"


class RefreshingToken:
    """A bearer access token from a login call (Voyagent's e-mail and password), reused
    until shortly before it expires and fetched again after a 401.

    One login at a time: concurrent requests wait for the same fetch instead of each
    logging in (which some back offices answer by revoking the previous token).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        margin_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._margin_s = margin_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None

    async def __call__(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {await self._current()}"

    async def renew(self, rejected: httpx.Request) -> bool:
        """Forget the refused token (unless a newer one replaced it meanwhile)."""
        sent = rejected.headers.get("Authorization", "").removeprefix("Bearer ")
        async with self._lock:
            if self._token == sent:
                self._token = None
        return True

    async def _current(self) -> str:
        async with self._lock:
            if self._token is None or self._stale():
                token = await self._fetch()
                checked_secret(token.value, what="access token")
                self._token = token.value
                self._expires_at = (
                    self._clock() + token.expires_in_s if token.expires_in_s is not None else None
                )
            return self._token

    def _stale(self) -> bool:
        return self._expires_at is not None and self._clock() >= self._expires_at - self._margin_s

    def __repr__(self) -> str:
        return "RefreshingToken('***')"
