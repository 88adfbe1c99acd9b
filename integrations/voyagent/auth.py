"""Voyagent sign-in: an access token refreshed before it expires, under one lock.

Refresh tokens are single use (a second use revokes the whole sign-in), so exactly one
refresh runs at a time and every request waiting on it uses the new pair. A login with 2FA
needs a person's six-digit code to sign in (`TotpRequired`); the code is used once and
never kept. Each new pair is handed to the `TokenStore` before it is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from integrations.auth import checked_secret
from integrations.breaker import CircuitBreaker
from integrations.errors import PartnerHTTPError, Unauthorized
from integrations.metrics import PartnerMetrics
from integrations.retry import Retrier
from integrations.transport import PartnerTransport, Route
from integrations.voyagent.models import TokenPair
from integrations.voyagent.wire import (
    PARTNER,
    SignInNeeded,
    TotpRequired,
    read_voyagent_error,
    refine,
)

__all__ = ["MemoryTokenStore", "TokenStore", "VoyagentAuth"]

SIGN_IN = Route("POST", "/auth/sign-in", idempotent=False)
SIGN_IN_TOTP = Route("POST", "/auth/sign-in-totp", idempotent=False)
REFRESH = Route("POST", "/auth/refresh", idempotent=False)
SIGN_OUT = Route("POST", "/auth/sign-out", idempotent=False)


class TokenStore(Protocol):
    async def load(self) -> TokenPair | None: ...

    async def save(self, pair: TokenPair | None) -> None:
        """Keep the new pair (None: forget it, the sign-in ended)."""
        ...


class MemoryTokenStore:
    def __init__(self) -> None:
        self._pair: TokenPair | None = None

    async def load(self) -> TokenPair | None:
        return self._pair

    async def save(self, pair: TokenPair | None) -> None:
        self._pair = pair


async def _no_credential(request: httpx.Request) -> None:
    """Sign-in and refresh carry their secrets in the body, not a header."""


class VoyagentAuth:
    """The auth hook of every Voyagent request of one login (and `Renewable` after a 401)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        email: str,
        password: str,
        store: TokenStore | None = None,
        margin_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        breaker: CircuitBreaker | None = None,
        metrics: PartnerMetrics | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        self._email = checked_secret(email, what="e-mail")
        self._password = password
        self._store = store or MemoryTokenStore()
        self._margin_s = margin_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._pair: TokenPair | None = None
        self._expires_at: float | None = None
        self._loaded = False
        self._needs_code = False
        self._open = PartnerTransport(
            http,
            partner=PARTNER,
            auth=_no_credential,
            base_url=base_url,
            read_error=read_voyagent_error,
            breaker=breaker,
            metrics=metrics,
            retrier=retrier,
        )

    def __repr__(self) -> str:
        return "VoyagentAuth('***')"

    async def __call__(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {await self._current()}"

    async def renew(self, rejected: httpx.Request) -> bool:
        """After a 401: refresh once, unless another request already did."""
        sent = rejected.headers.get("Authorization", "").removeprefix("Bearer ")
        async with self._lock:
            if self._pair is not None and self._pair.access_token == sent:
                await self._refresh()
        return True

    async def sign_in(self, totp_code: str | None = None) -> TokenPair:
        """Sign in now (with the person's code for a 2FA login)."""
        async with self._lock:
            await self._sign_in(totp_code)
            assert self._pair is not None
            return self._pair

    async def sign_out(self) -> None:
        async with self._lock:
            pair, self._pair = self._pair, None
            await self._store.save(None)
            if pair is not None:
                body = json.dumps({"refresh_token": pair.refresh_token}).encode()
                with contextlib.suppress(PartnerHTTPError):  # best effort: they expire anyway
                    await self._open.call(SIGN_OUT, body=body)

    async def _current(self) -> str:
        async with self._lock:
            if self._pair is None and not self._loaded:
                self._loaded = True
                stored = await self._store.load()
                if stored is not None:
                    self._pair, self._expires_at = stored, None  # its age is unknown
            if self._pair is None:
                await self._sign_in(None)
            elif self._stale():
                await self._refresh()
            assert self._pair is not None
            return self._pair.access_token

    def _stale(self) -> bool:
        if self._expires_at is None:
            return False
        return self._clock() >= self._expires_at

    async def _post(self, route: Route, payload: dict[str, str]) -> dict[str, object]:
        try:
            response = await self._open.call(route, body=json.dumps(payload).encode())
        except PartnerHTTPError as error:
            raise refine(error) from error
        return self._open.json_object(response, route)

    async def _sign_in(self, code: str | None) -> None:
        said = await self._post(SIGN_IN, {"email": self._email, "password": self._password})
        if said.get("totp_required"):
            self._needs_code = True
            challenge = str(said.get("challenge_token") or "")
            if code is None:
                raise TotpRequired(challenge)
            said = await self._post(SIGN_IN_TOTP, {"challenge_token": challenge, "code": code})
        await self._keep(TokenPair.model_validate(said))

    async def _refresh(self) -> None:
        assert self._pair is not None
        stored = await self._store.load()
        if stored is not None and stored.refresh_token != self._pair.refresh_token:
            # Another process sharing the store refreshed first: its pair is the live one
            # (ours is spent), and refreshing ours would revoke both.
            self._pair, self._expires_at = stored, None
            return
        try:
            said = await self._post(REFRESH, {"refresh_token": self._pair.refresh_token})
        except Unauthorized:
            self._pair = None
            await self._store.save(None)
            if self._needs_code:
                raise SignInNeeded(
                    401,
                    "sign_in_needed",
                    "the agency session ended and its login needs a two-factor code",
                    partner=PARTNER,
                ) from None
            await self._sign_in(None)
            return
        await self._keep(TokenPair.model_validate(said))

    async def _keep(self, pair: TokenPair) -> None:
        checked_secret(pair.access_token, what="access token")
        await self._store.save(pair)
        self._pair = pair
        if pair.expires_in is None:
            self._expires_at = None
        else:
            margin = min(self._margin_s, pair.expires_in / 4)
            self._expires_at = self._clock() + pair.expires_in - margin
