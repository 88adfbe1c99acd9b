"""Outgoing for one conversation: the right key, the right user header, provisioned once.

Negotiated (multi-user) keys act for a person named by a stable external id that must be
provisioned with `POST /users` before first use (and again when their profile changes);
self-serve keys act for their owner and must never send that header. A key's kind comes
from its binding, or is detected once and remembered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from conversations.credentials import OUTGOING, CredentialResolver, PartnerCredentials
from conversations.people import PARTNER_FIELDS, People
from conversations.types import ConversationAddress, Sender
from integrations.breaker import CircuitBreaker
from integrations.outgoing import KeyKind, OutgoingClient
from integrations.outgoing.models import ProvisionUserRequest


@dataclass(frozen=True)
class OutgoingSession:
    """A client bound to one key plus the external user id to send (None for self-serve)."""

    client: OutgoingClient
    user: str | None


class OutgoingAccess:
    def __init__(
        self, *, http: httpx.AsyncClient, credentials: CredentialResolver, people: People
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._people = people
        self._kinds: dict[str, KeyKind] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._provisioned: set[tuple[str, str]] = set()

    @property
    def credentials(self) -> CredentialResolver:
        """The resolver this access reads (the manager asks it about other partners too)."""
        return self._credentials

    async def configured(self, address: ConversationAddress) -> bool:
        return await self._credentials.credentials(address, OUTGOING) is not None

    async def session(self, address: ConversationAddress, sender: Sender) -> OutgoingSession | None:
        """A ready client for this person, or None when Outgoing is not configured here."""
        creds = await self._credentials.credentials(address, OUTGOING)
        if creds is None:
            return None
        kind = await self._key_kind(creds)
        breaker = self._breakers.setdefault(creds.base_url, CircuitBreaker(OUTGOING))
        client = OutgoingClient(
            self._http,
            api_key=creds.key,
            key_kind=kind,
            base_url=creds.base_url,
            breaker=breaker,
        )
        if kind is not KeyKind.NEGOTIATED:
            return OutgoingSession(client, None)
        person = await self._people.lookup(address, sender)
        provisioned = (_fingerprint(creds), person.external_user_id)
        if person.needs_provisioning or provisioned not in self._provisioned:
            shared = {k: v for k, v in person.profile.items() if k in PARTNER_FIELDS}
            request = ProvisionUserRequest(external_user_id=person.external_user_id, **shared)
            await client.provision_user(person.external_user_id, request)
            await self._people.provisioned(address, sender, person)
            self._provisioned.add(provisioned)
        return OutgoingSession(client, person.external_user_id)

    async def _key_kind(self, creds: PartnerCredentials) -> KeyKind:
        if creds.kind:
            return KeyKind(creds.kind)
        fingerprint = _fingerprint(creds)
        if fingerprint not in self._kinds:
            probe = OutgoingClient(
                self._http,
                api_key=creds.key,
                key_kind=KeyKind.SELF_SERVE,
                base_url=creds.base_url,
            )
            self._kinds[fingerprint] = await probe.detect_key_kind()
        return self._kinds[fingerprint]


def _fingerprint(creds: PartnerCredentials) -> str:
    return hashlib.sha256(f"{creds.base_url}\x1f{creds.key}".encode()).hexdigest()
