"""Mutable state of one sandbox app: journal, forced faults, users, bookings, background tasks.

Tests reach it with :func:`integrations.sandbox.sandbox_state` (``sandbox_state(app)``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from integrations.outgoing.models import CreateBookingRequest, ProvisionUserRequest
from integrations.sandbox.catalogue import Catalogue
from integrations.sandbox.config import BindToken, ForcedResponse, SandboxConfig

__all__ = [
    "Booking",
    "Interaction",
    "JournalEntry",
    "Principal",
    "SandboxState",
    "UserRecord",
    "WebhookDelivery",
    "key_fingerprint",
]

logger = logging.getLogger(__name__)

PrincipalKind = Literal["negotiated", "self_serve", "agent"]


def key_fingerprint(key: str) -> str:
    """A short, stable, non-secret id of an API key (what the journal records)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the API key and what kind of credential it is."""

    key: str
    kind: PrincipalKind

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.key)


@dataclass(slots=True)
class JournalEntry:
    """One request as the partner received it (the ``Authorization`` header is left out)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    key_fingerprint: str | None
    at: datetime
    status: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One attempt to POST a booking webhook."""

    url: str
    payload: dict[str, Any]
    attempt: int
    status_code: int | None
    error: str | None
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(slots=True)
class UserRecord:
    key: str
    external_user_id: str
    profile: ProvisionUserRequest
    linked: bool
    created_at: datetime


@dataclass(slots=True)
class Booking:
    booking_id: str
    key: str
    external_user_id: str
    request: CreateBookingRequest
    fingerprint: str
    activity_name: str
    picture_url: str
    venue: str
    estimated_fulfillment: str | None
    purchase_amount_cents: int
    created_at: datetime
    base_url: str
    status: str = "pending"
    resolved_at: datetime | None = None
    confirmation_code: str | None = None
    download_urls: list[str] = field(default_factory=list)
    notes: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class Interaction:
    """An AAuth upgrade the user must finish in a browser."""

    state: str
    code: str
    key: str
    completed: bool = False


def _path_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"\{[^{}]+\}", template)
    return re.compile("[^/]+".join(re.escape(p) for p in pieces) + r"\Z")


class SandboxState:
    """Everything one sandbox app remembers; lives on ``app.state.sandbox``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.journal: list[JournalEntry] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.users: dict[tuple[str, str], UserRecord] = {}
        self.bookings: dict[str, Booking] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.bind_tokens: dict[str, BindToken] = dict(config.bind_tokens)
        self.bound_teams: dict[str, str] = {}
        self.interactions: dict[str, Interaction] = {}
        self.upgraded_keys: set[str] = set()
        self._forced: list[tuple[ForcedResponse, re.Pattern[str]]] = []
        self._windows: dict[str, deque[float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._catalogue = Catalogue.load(self.now())
        for forced in config.forced_responses:
            self.force(forced)

    # ------------------------------------------------------------------ clock & catalogue

    def now(self) -> datetime:
        return self.config.now or datetime.now(UTC)

    @property
    def catalogue(self) -> Catalogue:
        """The catalogue, rebuilt when the day changes so its dates stay in the future."""
        now = self.now()
        if now.date() != self._catalogue.built_at.date():
            self._catalogue = Catalogue.load(now)
        return self._catalogue

    # ------------------------------------------------------------------ fault injection

    def force(self, *responses: ForcedResponse) -> None:
        """Queue canned responses; each answers the next matching request once, in order."""
        self._forced.extend((r, _path_pattern(r.path)) for r in responses)

    def take_forced(self, method: str, path: str) -> ForcedResponse | None:
        for index, (forced, pattern) in enumerate(self._forced):
            if forced.method is not None and forced.method.upper() != method.upper():
                continue
            if pattern.match(path):
                del self._forced[index]
                return forced
        return None

    @property
    def pending_forced(self) -> int:
        return len(self._forced)

    # ------------------------------------------------------------------ journal

    def requests_to(self, path: str, method: str | None = None) -> list[JournalEntry]:
        """Journal entries whose path matches ``path`` (exact or ``{param}`` template)."""
        pattern = _path_pattern(path)
        return [
            e
            for e in self.journal
            if pattern.match(e.path) and (method is None or e.method == method.upper())
        ]

    # ------------------------------------------------------------------ auth helpers

    def principal_for(self, key: str) -> Principal | None:
        cfg = self.config
        if key in cfg.negotiated_keys:
            return Principal(key, "negotiated")
        if key in cfg.self_serve_keys:
            return Principal(key, "self_serve")
        if key in cfg.trial_exhausted_keys:
            return Principal(key, "agent")
        return None

    def interaction_for(self, key: str) -> Interaction:
        """The pending upgrade of ``key`` (one per key, created on first need)."""
        for interaction in self.interactions.values():
            if interaction.key == key and not interaction.completed:
                return interaction
        code = f"{secrets.randbelow(10**4):04d}-{secrets.randbelow(10**4):04d}"
        interaction = Interaction(state=secrets.token_urlsafe(16), code=code, key=key)
        self.interactions[interaction.state] = interaction
        return interaction

    def complete_interaction(self, state_or_code: str) -> bool:
        """What the user's browser does on the upgrade page; ``False`` if unknown."""
        for interaction in self.interactions.values():
            if state_or_code in (interaction.state, interaction.code):
                interaction.completed = True
                self.upgraded_keys.add(interaction.key)
                return True
        return False

    def retry_after(self, key: str) -> int | None:
        """Count one call of ``key``; seconds to wait if it is over the per-minute limit."""
        limit = self.config.rate_limit_per_minute
        if limit is None:
            return None
        now = time.monotonic()
        window = self._windows.setdefault(key, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= limit:
            return max(1, int(60 - (now - window[0])) + 1)
        window.append(now)
        return None

    def add_bind_token(self, token: str, team_id: str, expires_at: datetime | None = None) -> None:
        self.bind_tokens[token] = BindToken(team_id=team_id, expires_at=expires_at)

    # ------------------------------------------------------------------ background work

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def background_tasks(self) -> int:
        """Webhook deliveries still scheduled or running."""
        return len(self._tasks)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.config.webhook_timeout_s,
                headers={"User-Agent": "outgoing-sandbox/1.0"},
            )
        return self._http

    async def wait_for_webhooks(self) -> None:
        """Wait until every scheduled webhook delivery has finished (tests; wrap it in
        ``asyncio.timeout(...)``)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel and await background deliveries, then close the webhook client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def bookings_of(self, key: str, external_user_id: str) -> list[Booking]:
        """Newest first (insertion order of ``bookings`` is creation order)."""
        return [
            b
            for b in reversed(self.bookings.values())
            if b.key == key and b.external_user_id == external_user_id
        ]

    def user(self, key: str, external_user_id: str) -> UserRecord | None:
        return self.users.get((key, external_user_id))
