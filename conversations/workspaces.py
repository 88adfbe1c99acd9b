"""Workspaces and their partner keys: bind tokens, binding, and resolving credentials.

A bind token is random (256 bits), stored only as a hash, tied to one workspace, expires
(7 days by default) and binds one key: the same key again reports `bound: false`, another
key is refused. The Outgoing key is verified with `GET /auth` and its kind detected before
anything is stored; keys are sealed at rest and bound to their workspace's row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from conversations import delivery
from conversations.credentials import (
    CALL_AGENT,
    EVENTS,
    ONEGENT,
    OUTGOING,
    EnvironmentCredentials,
    PartnerCredentials,
)
from conversations.replies import Reply
from conversations.types import ConversationAddress
from integrations.errors import InteractionRequired, PartnerError, Unauthorized
from integrations.onegent import MalformedKey, check_key
from integrations.outgoing import KeyKind, OutgoingClient
from storage import Database, FieldCipher, new_token, repositories, token_hash
from storage.crypto import DecryptionError
from storage.models import Workspace

log = logging.getLogger(__name__)

BIND_TOKEN_TTL = timedelta(days=7)
BIND_API_PATH = "/partner/v1/slack/workspaces/bind"
OPTIONAL_PARTNERS = (ONEGENT, CALL_AGENT, EVENTS)
#: partners a workspace can bind a plain key for (Voyagent logs in with e-mail and password)
KEYED_PARTNERS = frozenset({OUTGOING, *OPTIONAL_PARTNERS})
CACHE_TTL_S = 30.0


@dataclass(frozen=True)
class BindResult:
    """What a bind attempt came to; `status` is the HTTP status the API door answers with."""

    status: int
    team_id: str | None = None
    bound: bool = False
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class WorkspaceInfo:
    """What an admin may see of a workspace's set-up (never a key)."""

    outgoing_kind: str | None
    """"negotiated" or "self_serve" when an Outgoing key is bound here; None otherwise."""
    partners: tuple[str, ...]
    """Every partner with a key bound here."""
    spend_cap_cents: int | None
    """This workspace's limit per booking; None means the deployment's default."""


@dataclass(frozen=True)
class Revoked:
    """What `revoke` removed."""

    installation: bool
    credentials: int
    bind_tokens: int


def _refused(status: int, code: str, message: str) -> BindResult:
    return BindResult(status=status, code=code, message=message)


class Workspaces:
    def __init__(
        self,
        *,
        db: Database,
        cipher: FieldCipher,
        http: httpx.AsyncClient,
        outgoing_url: str,
        public_url: str,
        on_bound: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_bound = on_bound
        self._db = db
        self._cipher = cipher
        self._http = http
        self._outgoing_url = outgoing_url.rstrip("/")
        self._public_url = public_url.rstrip("/")

    def bind_link(self, token: str) -> str:
        return f"{self._public_url}/bind?token={token}"

    @property
    def bind_api_url(self) -> str:
        """The API door (the Outgoing spec's bind contract)."""
        return f"{self._public_url}{BIND_API_PATH}"

    async def describe(self, *, platform: str, workspace_external_id: str) -> WorkspaceInfo:
        async with self._db.session(read_only=True) as session:
            workspace = await repositories.get_workspace(
                session, platform=platform, external_id=workspace_external_id
            )
            if workspace is None:
                return WorkspaceInfo(None, (), None)
            kinds = await repositories.credential_kinds(session, workspace_id=workspace.id)
        return WorkspaceInfo(kinds.get("outgoing"), tuple(sorted(kinds)), workspace.spend_cap_cents)

    async def set_spend_cap(
        self, *, platform: str, workspace_external_id: str, cents: int | None
    ) -> None:
        """What one booking may cost here (None: back to the deployment's default)."""
        async with self._db.session() as session:
            await repositories.set_spend_cap(
                session, platform=platform, external_id=workspace_external_id, cents=cents
            )

    async def revoke(self, *, platform: str, workspace_external_id: str) -> Revoked:
        """The bot lost its access here (uninstalled, token revoked): forget its
        installation, the partner keys bound here and any bind token still out."""
        async with self._db.session() as session:
            workspace = await repositories.get_workspace(
                session, platform=platform, external_id=workspace_external_id
            )
            if workspace is None:
                return Revoked(False, 0, 0)
            revoked = Revoked(
                await repositories.delete_installation(session, workspace_id=workspace.id),
                await repositories.delete_credentials(session, workspace_id=workspace.id),
                await repositories.delete_bind_tokens(session, workspace_id=workspace.id),
            )
        self._on_bound()
        log.info(
            "workspace %s revoked: installation %s, %d keys, %d bind tokens",
            workspace_external_id,
            "removed" if revoked.installation else "absent",
            revoked.credentials,
            revoked.bind_tokens,
        )
        return revoked

    async def issue_bind_token(
        self,
        *,
        platform: str,
        workspace_external_id: str,
        issued_by: str | None,
        notify: ConversationAddress | None = None,
    ) -> str:
        """A fresh token for the workspace; only its hash is kept."""
        token = new_token()
        async with self._db.session() as session:
            workspace = await repositories.get_or_create_workspace(
                session, platform=platform, external_id=workspace_external_id
            )
            await repositories.create_bind_token(
                session,
                workspace_id=workspace.id,
                token_hash=token_hash(token),
                expires_at=datetime.now(UTC) + BIND_TOKEN_TTL,
                issued_by=issued_by,
                notify=_address_json(notify) if notify else None,
            )
        return token

    async def bind(
        self, *, token: str, outgoing_key: str, other_keys: dict[str, str] | None = None
    ) -> BindResult:
        """Verify the key with Outgoing, then bind it (and any other partner keys) to the
        token's workspace. Every failure changes nothing."""
        if not token or len(token) > 200:
            return _refused(404, "unknown_token", "This bind link is not valid.")
        async with self._db.session(read_only=True) as session:
            found = await repositories.get_bind_token(session, token_hash=token_hash(token))
            workspace = await session.get(Workspace, found.workspace_id) if found else None
        if found is None or workspace is None:
            return _refused(404, "unknown_token", "This bind link is not valid.")
        if found.expires_at <= datetime.now(UTC):
            return _refused(400, "expired_token", "This bind link has expired; ask for a new one.")
        malformed = _malformed_other_key(other_keys or {})
        if malformed is not None:
            return malformed
        key = outgoing_key.strip()
        kind = await self._verify(key)
        if isinstance(kind, BindResult):
            return kind
        fingerprint = self._cipher.fingerprint(key.encode())
        async with self._db.session() as session:
            used = await repositories.consume_bind_token(
                session, token_hash=token_hash(token), fingerprint=fingerprint
            )
            if used is None:
                return _refused(
                    409, "token_used", "This bind link was already used with another key."
                )
            bound = await repositories.bind_credential(
                session,
                workspace_id=workspace.id,
                partner="outgoing",
                key=key,
                kind=kind.value,
                cipher=self._cipher,
            )
            for partner, other in (other_keys or {}).items():
                if partner in OPTIONAL_PARTNERS and other.strip():
                    await repositories.bind_credential(
                        session,
                        workspace_id=workspace.id,
                        partner=partner,
                        key=other.strip(),
                        kind=None,
                        cipher=self._cipher,
                    )
            if bound and used.notify:
                await delivery.enqueue(
                    session,
                    ConversationAddress(**used.notify),
                    Reply(text=_bound_text(kind)),
                    dedupe_key=f"bind:{used.id}:{fingerprint[:16]}",
                )
        self._on_bound()
        log.info("workspace %s bound an Outgoing key (%s)", workspace.external_id, kind.value)
        return BindResult(status=200, team_id=workspace.external_id, bound=bound)

    async def _verify(self, key: str) -> KeyKind | BindResult:
        if not key.startswith("og_api_") or any(c.isspace() for c in key) or len(key) > 300:
            return _refused(
                401, "key_malformed", "That doesn't look like an Outgoing key (og_api_…)."
            )
        client = OutgoingClient(
            self._http, api_key=key, key_kind=KeyKind.SELF_SERVE, base_url=self._outgoing_url
        )
        try:
            return await client.detect_key_kind()
        except Unauthorized as error:
            code = error.code if error.code in ("key_malformed", "key_invalid") else "key_invalid"
            return _refused(401, code, "Outgoing did not accept that key.")
        except InteractionRequired:
            return _refused(401, "key_invalid", "That credential needs a browser sign-in.")
        except PartnerError as error:
            log.warning("Outgoing unreachable while binding: %r", error)
            return _refused(502, "outgoing_unavailable", "Outgoing can't be reached right now.")


def _malformed_other_key(keys: dict[str, str]) -> BindResult | None:
    """A partner key whose shape is known to be wrong is refused before anything is bound
    (Onegent's keys are `ogk_live_…` or `ogk_test_…`)."""
    onegent = keys.get(ONEGENT, "").strip()
    if onegent:
        try:
            check_key(onegent)
        except MalformedKey:
            return _refused(
                400,
                "onegent_key_malformed",
                "That doesn't look like an Onegent key (ogk_live_… or ogk_test_…); "
                "nothing was bound.",
            )
    return None


def _address_json(address: ConversationAddress) -> dict[str, str]:
    return {
        "platform": address.platform,
        "workspace_id": address.workspace_id,
        "chat_id": address.chat_id,
        "thread_id": address.thread_id,
    }


def _bound_text(kind: KeyKind) -> str:
    if kind is KeyKind.NEGOTIATED:
        return (
            "This workspace is now connected to Outgoing with a partner key: everyone books "
            "into their own Outgoing account."
        )
    return (
        "This workspace is now connected to Outgoing with a personal (self-serve) key: "
        "searches work for everyone, and orders belong to the key's owner."
    )


class StoredCredentials:
    """Credentials for a conversation: the workspace's bound key first, then the
    deployment's defaults. A bound key is used at its partner's deployment URL; one read
    loads every key of a workspace, kept briefly in memory (never logged)."""

    def __init__(
        self, *, db: Database, cipher: FieldCipher, fallback: EnvironmentCredentials
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._fallback = fallback
        self._cache: dict[tuple[str, str], tuple[float, dict[str, PartnerCredentials]]] = {}

    def forget_cached(self) -> None:
        self._cache.clear()

    async def credentials(
        self, address: ConversationAddress, partner: str
    ) -> PartnerCredentials | None:
        bound = (await self._bound(address)).get(partner)
        return bound or await self._fallback.credentials(address, partner)

    async def _bound(self, address: ConversationAddress) -> dict[str, PartnerCredentials]:
        cache_key = (address.platform, address.workspace_id)
        cached = self._cache.get(cache_key)
        if cached and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        bound = await self._load(address)
        self._cache[cache_key] = (time.monotonic(), bound)
        return bound

    async def _load(self, address: ConversationAddress) -> dict[str, PartnerCredentials]:
        """Every key bound to this workspace whose partner this deployment can reach."""
        found: dict[str, PartnerCredentials] = {}
        async with self._db.session(read_only=True) as session:
            workspace = await repositories.get_workspace(
                session, platform=address.platform, external_id=address.workspace_id
            )
            if workspace is None:
                return found
            kinds = await repositories.credential_kinds(session, workspace_id=workspace.id)
            for partner in sorted(kinds):
                base_url = self._fallback.base_url(partner)
                if partner not in KEYED_PARTNERS or base_url is None:
                    continue
                try:
                    key = await repositories.get_credential(
                        session, workspace_id=workspace.id, partner=partner, cipher=self._cipher
                    )
                except DecryptionError:
                    log.error(
                        "workspace %s has an unreadable %s key", address.workspace_id, partner
                    )
                    continue
                if key is not None:
                    found[partner] = PartnerCredentials(base_url, key.key, key.kind)
        return found
