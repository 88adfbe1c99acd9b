"""The one place partner credentials are resolved: (workspace of the address, partner).

Today the deployment's environment is the only source; bound per-workspace keys slot in
behind the same `CredentialResolver` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from conversations.types import ConversationAddress


@dataclass(frozen=True)
class OutgoingCredentials:
    """`kind` ("negotiated"/"self_serve") when known from binding; None = detect once."""

    base_url: str
    api_key: str
    kind: str | None = None

    def __repr__(self) -> str:  # never print the key
        return f"OutgoingCredentials(base_url={self.base_url!r}, api_key='***', kind={self.kind!r})"


class CredentialResolver(Protocol):
    async def outgoing(self, address: ConversationAddress) -> OutgoingCredentials | None: ...


@dataclass(frozen=True)
class EnvironmentCredentials:
    """Deployment-wide defaults; a partner without URL or key is simply switched off."""

    outgoing_url: str | None
    outgoing_key: str | None

    async def outgoing(self, address: ConversationAddress) -> OutgoingCredentials | None:
        if not self.outgoing_url or not self.outgoing_key:
            return None
        return OutgoingCredentials(self.outgoing_url.rstrip("/"), self.outgoing_key)
