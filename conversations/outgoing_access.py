"""Outgoing for one conversation: the right key, the right user header, provisioned once.

Negotiated (multi-user) keys act for a person named by a stable external id that must be
provisioned with `POST /users` before first use; self-serve keys act for their owner and
must never send that header. Which kind a key is gets detected once and remembered.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import httpx

from conversations.credentials import CredentialResolver, OutgoingCredentials
from conversations.types import ConversationAddress, Sender
from integrations.outgoing import KeyKind, OutgoingClient
from integrations.outgoing.models import ProvisionUserRequest


@dataclass(frozen=True)
class OutgoingSession:
    """A client bound to one key plus the external user id to send (None for self-serve)."""

    client: OutgoingClient
    user: str | None


def external_user_id(address: ConversationAddress, sender: Sender) -> str:
    """Stable, opaque id for a chat identity (platform + workspace + user); reveals nothing."""
    raw = f"{address.platform}\x1f{address.workspace_id}\x1f{sender.user_id}".encode()
    return "cg_" + hashlib.sha256(raw).hexdigest()[:32]


class OutgoingAccess:
    def __init__(self, *, http: httpx.AsyncClient, credentials: CredentialResolver) -> None:
        self._http = http
        self._credentials = credentials
        self._kinds: dict[str, KeyKind] = {}
        self._provisioned: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()

    async def configured(self, address: ConversationAddress) -> bool:
        return await self._credentials.outgoing(address) is not None

    async def session(self, address: ConversationAddress, sender: Sender) -> OutgoingSession | None:
        """A ready client for this person, or None when Outgoing is not configured here."""
        creds = await self._credentials.outgoing(address)
        if creds is None:
            return None
        kind = await self._key_kind(creds)
        client = OutgoingClient(
            self._http, api_key=creds.api_key, key_kind=kind, base_url=creds.base_url
        )
        if kind is not KeyKind.NEGOTIATED:
            return OutgoingSession(client, None)
        user = external_user_id(address, sender)
        await self._provision(client, creds, user, sender)
        return OutgoingSession(client, user)

    async def _key_kind(self, creds: OutgoingCredentials) -> KeyKind:
        fingerprint = hashlib.sha256(f"{creds.base_url}\x1f{creds.api_key}".encode()).hexdigest()
        if fingerprint not in self._kinds:
            probe = OutgoingClient(
                self._http,
                api_key=creds.api_key,
                key_kind=KeyKind.SELF_SERVE,
                base_url=creds.base_url,
            )
            self._kinds[fingerprint] = await probe.detect_key_kind()
        return self._kinds[fingerprint]

    async def _provision(
        self, client: OutgoingClient, creds: OutgoingCredentials, user: str, sender: Sender
    ) -> None:
        key = (hashlib.sha256(creds.api_key.encode()).hexdigest(), user)
        if key in self._provisioned:
            return
        async with self._lock:
            if key in self._provisioned:
                return
            await client.provision_user(
                user, ProvisionUserRequest(external_user_id=user, display_name=sender.display_name)
            )
            self._provisioned.add(key)
