"""Onegent for one conversation: a client for the workspace's key, or None when it is off."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

from conversations.capabilities.onegent.identity import IdentityVault
from conversations.credentials import ONEGENT, CredentialResolver
from conversations.types import ConversationAddress
from integrations.breaker import CircuitBreaker
from integrations.onegent import MalformedKey, OnegentClient

log = logging.getLogger(__name__)


@dataclass
class OnegentAccess:
    http: httpx.AsyncClient
    credentials: CredentialResolver
    identities: IdentityVault = field(default_factory=IdentityVault)
    """Flight identities on their way to Onegent, in this process's memory only."""
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    async def client(self, address: ConversationAddress) -> OnegentClient | None:
        creds = await self.credentials.credentials(address, ONEGENT)
        if creds is None:
            return None
        breaker = self._breakers.setdefault(creds.base_url, CircuitBreaker(ONEGENT))
        try:
            return OnegentClient(
                self.http, api_key=creds.key, base_url=creds.base_url, breaker=breaker
            )
        except MalformedKey:
            log.error("the Onegent key configured here is malformed; Onegent is off")
            return None
