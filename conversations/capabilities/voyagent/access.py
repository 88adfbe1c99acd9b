"""The agency for one conversation: a Voyagent client signed in as the workspace's login
(or the deployment's), shared by every conversation that uses that login.

One client per login and process: its auth hook refreshes the access token under one lock,
and Voyagent's refresh tokens are single use, so two clients of one login would revoke each
other's sessions. A login whose account has 2FA needs a person's code once
(asked by the job); the signed-in session is then kept sealed, never the code.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import httpx

from conversations.capabilities.voyagent.tokens import SealedTokens
from conversations.credentials import VOYAGENT, CredentialResolver, PartnerCredentials
from conversations.types import ConversationAddress
from integrations.breaker import CircuitBreaker
from integrations.voyagent import VoyagentClient
from storage import Database, FieldCipher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Agency:
    """A client for one login, and the fingerprint that names the login in our rows."""

    client: VoyagentClient
    fingerprint: str


def _fingerprint(creds: PartnerCredentials) -> str:
    seed = f"{creds.base_url}\x1f{creds.login}\x1f{creds.key}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


@dataclass
class VoyagentAccess:
    http: httpx.AsyncClient
    credentials: CredentialResolver
    edit_every_s: dict[str, float] = field(default_factory=lambda: {"slack": 1.0, "telegram": 2.0})
    """How often a streaming agency turn may edit its message, per platform; a platform
    not listed (the terminal, which cannot edit) gets each turn once, when it ends."""
    db: Database | None = None
    cipher: FieldCipher | None = None
    """Where the signed-in session is kept, sealed (None: in memory, for this process)."""
    threads_by_message: frozenset[str] = frozenset()
    """Platforms whose threads hang off a message (Slack): a bridge asked for outside a
    thread (a DM) moves into the thread of its header, once that is posted."""
    _agencies: dict[str, Agency] = field(default_factory=dict)
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    async def agency(self, address: ConversationAddress) -> Agency | None:
        """The agency here, or None when Voyagent is not set up for this workspace."""
        creds = await self.credentials.credentials(address, VOYAGENT)
        if creds is None or not creds.login:
            return None
        fingerprint = _fingerprint(creds)
        known = self._agencies.get(fingerprint)
        if known is None:
            breaker = self._breakers.setdefault(creds.base_url, CircuitBreaker(VOYAGENT))
            store = (
                SealedTokens(self.db, self.cipher, fingerprint)
                if self.db is not None and self.cipher is not None
                else None
            )
            client = VoyagentClient(
                self.http,
                base_url=creds.base_url,
                email=creds.login,
                password=creds.key,
                store=store,
                breaker=breaker,
            )
            known = self._agencies.setdefault(fingerprint, Agency(client, fingerprint))
        return known

    def cadence(self, platform: str) -> float | None:
        return self.edit_every_s.get(platform)
