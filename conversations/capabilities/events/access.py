"""The Events partner for one conversation: a client for the workspace's key (or None when
Events is off here), whether that key may write, and where run webhooks come back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field

import httpx

from conversations.credentials import EVENTS, CredentialResolver
from conversations.types import ConversationAddress
from integrations.breaker import CircuitBreaker
from integrations.errors import PartnerError
from integrations.events import EventsClient, ImportLimits
from integrations.events.wire import EventsUnauthorized

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/events/runs/"
SCOPES_FOR_S = 300.0
"""How long a key's scopes are trusted before `GET /auth` is asked again."""


@dataclass
class EventsAccess:
    http: httpx.AsyncClient
    credentials: CredentialResolver
    public_url: str = ""
    token_key: bytes = field(default=b"", repr=False)
    """Derives each run's webhook token (only its hash is stored); empty: no webhooks."""
    import_limits: ImportLimits | None = None
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _writes: dict[str, tuple[float, bool]] = field(default_factory=dict)

    async def client(self, address: ConversationAddress) -> EventsClient | None:
        creds = await self.credentials.credentials(address, EVENTS)
        if creds is None:
            return None
        breaker = self._breakers.setdefault(creds.base_url, CircuitBreaker(EVENTS))
        return EventsClient(
            self.http,
            api_key=creds.key,
            base_url=creds.base_url,
            breaker=breaker,
            import_limits=self.import_limits,
        )

    async def can_write(self, address: ConversationAddress) -> bool:
        """Whether this workspace's key has `partner:write` (a `partner:read` key is offered
        no writes). Asked once per key every few minutes; a key the partner refuses, or a
        partner that cannot say, offers no writes."""
        creds = await self.credentials.credentials(address, EVENTS)
        if creds is None:
            return False
        fingerprint = hashlib.sha256(f"{creds.base_url}\x00{creds.key}".encode()).hexdigest()
        known = self._writes.get(fingerprint)
        if known is not None and time.monotonic() - known[0] < SCOPES_FOR_S:
            return known[1]
        client = await self.client(address)
        if client is None:
            return False
        try:
            writes = await client.can_write()
        except EventsUnauthorized:
            writes = False
        except PartnerError:
            log.warning("could not read the Events key's scopes")
            return False
        self._writes[fingerprint] = (time.monotonic(), writes)
        return writes

    def webhook_token(self, idempotency_key: str) -> str | None:
        if not self.token_key or not self.public_url:
            return None
        digest = hmac.new(self.token_key, f"events-run:{idempotency_key}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    def webhook_url(self, idempotency_key: str) -> str | None:
        """Where the partner may tell us a run moved on (a hint: the poll is what counts)."""
        token = self.webhook_token(idempotency_key)
        if token is None:
            return None
        return f"{self.public_url.rstrip('/')}{WEBHOOK_PATH}{token}"
