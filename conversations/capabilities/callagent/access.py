"""The AI Call Agent for one conversation: its client, and the webhook kept as a backup.

The call's SSE stream is the main way questions arrive; the partner documents stream
`ask_user` events as fire-and-forget, so when the concierge has a public https URL it also
configures the account's `ask_user` webhook, once per API key. The partner rotates the HMAC
secret on every configuration; it is kept sealed, bound to the key's fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import httpx

from conversations.credentials import CALL_AGENT, CredentialResolver, PartnerCredentials
from conversations.types import ConversationAddress
from integrations.breaker import CircuitBreaker
from integrations.callagent import Booking, CallAgentClient
from integrations.errors import PartnerError
from storage import Database, FieldCipher, field_aad, new_token, repositories, token_hash

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/callagent/"
DEFAULT_CALLS_PER_DAY = 20


@dataclass(frozen=True)
class CallAgent:
    """A client bound to one API key, and the fingerprint that names the key in our rows."""

    client: CallAgentClient
    fingerprint: str


def _fingerprint(creds: PartnerCredentials) -> str:
    return hashlib.sha256(f"{creds.base_url}\x1f{creds.key}".encode()).hexdigest()[:32]


def secret_aad(fingerprint: str) -> bytes:
    return field_aad("call_webhook", "secret_ciphertext", fingerprint)


@dataclass
class CallAgentAccess:
    http: httpx.AsyncClient
    credentials: CredentialResolver
    db: Database
    cipher: FieldCipher
    public_url: str
    calls_per_day: int = DEFAULT_CALLS_PER_DAY
    """Calls one workspace may place in 24 hours (a runaway model can't dial all day)."""
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _webhooks: set[str] = field(default_factory=set)

    async def agent(self, address: ConversationAddress) -> CallAgent | None:
        """The Call Agent here, or None when it is not configured for this workspace."""
        creds = await self.credentials.credentials(address, CALL_AGENT)
        if creds is None:
            return None
        breaker = self._breakers.setdefault(creds.base_url, CircuitBreaker(CALL_AGENT))
        client = CallAgentClient(
            self.http, api_key=creds.key, base_url=creds.base_url, breaker=breaker
        )
        return CallAgent(client, _fingerprint(creds))

    @property
    def webhooks_possible(self) -> bool:
        """The partner only posts to https; a loopback demo listens to the stream alone."""
        return self.public_url.startswith("https://")

    async def ensure_webhook(self, agent: CallAgent) -> None:
        """Configure the backup webhook once per key (best effort: the stream is enough)."""
        if not self.webhooks_possible or agent.fingerprint in self._webhooks:
            return
        async with self.db.session(read_only=True) as session:
            known = await repositories.get_call_webhook(session, key_fingerprint=agent.fingerprint)
        if known is not None:
            self._webhooks.add(agent.fingerprint)
            return
        token = new_token()
        url = f"{self.public_url.rstrip('/')}{WEBHOOK_PATH}{token}"
        try:
            configured = await agent.client.set_webhook(url, regenerate_secret=True)
        except (PartnerError, ValueError) as error:
            log.warning("could not configure the call agent webhook: %s", type(error).__name__)
            return
        if not configured.secret:
            log.warning("the call agent configured its webhook without a secret; not using it")
            return
        sealed = self.cipher.encrypt(configured.secret.encode(), aad=secret_aad(agent.fingerprint))
        async with self.db.session() as session:
            await repositories.save_call_webhook(
                session,
                key_fingerprint=agent.fingerprint,
                token_hash=token_hash(token),
                secret_ciphertext=sealed,
                url=url,
            )
        self._webhooks.add(agent.fingerprint)

    async def bookings_of(
        self, address: ConversationAddress, user_id: str
    ) -> list[tuple[Booking, str]]:
        """Bookings the person's own calls made, with whom each call was to (the account's
        list holds everyone's)."""
        agent = await self.agent(address)
        if agent is None:
            return []
        async with self.db.session(read_only=True) as session:
            calls = await repositories.person_jobs(
                session,
                platform=address.platform,
                workspace_id=address.workspace_id,
                requested_by=user_id,
                kinds=["call"],
                statuses=["completed"],
                limit=50,
            )
        mine = {c.partner_ref: str(c.payload.get("callee") or "") for c in calls if c.partner_ref}
        if not mine:
            return []
        try:
            bookings = await agent.client.list_bookings(limit=100)
        except PartnerError:
            return []
        return [(b, mine[b.call_id]) for b in bookings if b.call_id in mine]
