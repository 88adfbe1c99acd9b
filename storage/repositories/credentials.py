"""Partner keys bound to a workspace, and the one-time bind tokens that bind them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import FieldCipher, field_aad
from storage.models import BindToken, WorkspaceCredential, new_id, utc_now
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert

__all__ = [
    "BoundKey",
    "bind_credential",
    "consume_bind_token",
    "create_bind_token",
    "credential_kinds",
    "delete_bind_tokens",
    "delete_credentials",
    "get_bind_token",
    "get_credential",
]


class BoundKey:
    """A workspace's key for one partner, in clear only in memory."""

    __slots__ = ("fingerprint", "key", "kind")

    def __init__(self, key: str, kind: str | None, fingerprint: str) -> None:
        self.key, self.kind, self.fingerprint = key, kind, fingerprint

    def __repr__(self) -> str:
        return f"BoundKey(kind={self.kind!r}, key='***')"


def _aad(workspace_id: str, partner: str) -> bytes:
    return field_aad("workspace_credential", partner, workspace_id)


async def bind_credential(
    session: AsyncSession,
    *,
    workspace_id: str,
    partner: str,
    key: str,
    kind: str | None,
    cipher: FieldCipher,
    now: datetime | None = None,
) -> bool:
    """Store (or replace) the workspace's key for `partner`; False when that very key was
    already bound (nothing changes then)."""
    fingerprint = cipher.fingerprint(key.encode())
    existing = await session.exec(
        select(WorkspaceCredential).where(
            col(WorkspaceCredential.workspace_id) == workspace_id,
            col(WorkspaceCredential.partner) == partner,
        )
    )
    current = existing.first()
    if current is not None and current.key_fingerprint == fingerprint:
        return False
    sealed = cipher.encrypt(key.encode(), aad=_aad(workspace_id, partner))
    values = {
        "key_ciphertext": sealed,
        "key_fingerprint": fingerprint,
        "kind": kind,
        "bound_at": now or utc_now(),
    }
    await session.exec(
        dialect_insert(session, WorkspaceCredential)
        .values(id=new_id(), workspace_id=workspace_id, partner=partner, **values)
        .on_conflict_do_update(index_elements=["workspace_id", "partner"], set_=values)
    )
    return True


async def get_credential(
    session: AsyncSession, *, workspace_id: str, partner: str, cipher: FieldCipher
) -> BoundKey | None:
    """The workspace's key for `partner`; raises `DecryptionError` if the row was tampered
    with (a ciphertext copied from another workspace does not open here)."""
    result = await session.exec(
        select(WorkspaceCredential).where(
            col(WorkspaceCredential.workspace_id) == workspace_id,
            col(WorkspaceCredential.partner) == partner,
        )
    )
    row = result.first()
    if row is None:
        return None
    key = cipher.decrypt(row.key_ciphertext, aad=_aad(workspace_id, partner)).decode()
    return BoundKey(key, row.kind, row.key_fingerprint)


async def delete_credentials(session: AsyncSession, *, workspace_id: str) -> int:
    result = await session.exec(
        delete(WorkspaceCredential).where(col(WorkspaceCredential.workspace_id) == workspace_id)
    )
    return int(result.rowcount)


async def credential_kinds(session: AsyncSession, *, workspace_id: str) -> dict[str, str | None]:
    """Which partners have a key bound here, and of which kind (nothing is decrypted)."""
    result = await session.exec(
        select(col(WorkspaceCredential.partner), col(WorkspaceCredential.kind)).where(
            col(WorkspaceCredential.workspace_id) == workspace_id
        )
    )
    return {partner: kind for partner, kind in result.all()}


async def delete_bind_tokens(session: AsyncSession, *, workspace_id: str) -> int:
    result = await session.exec(
        delete(BindToken).where(col(BindToken.workspace_id) == workspace_id)
    )
    return int(result.rowcount)


async def create_bind_token(
    session: AsyncSession,
    *,
    workspace_id: str,
    token_hash: str,
    expires_at: datetime,
    issued_by: str | None = None,
    notify: Mapping[str, Any] | None = None,
) -> BindToken:
    token = BindToken(
        workspace_id=workspace_id,
        token_hash=token_hash,
        expires_at=expires_at,
        issued_by=issued_by,
        notify=dict(notify) if notify is not None else None,
    )
    session.add(token)
    await session.flush()
    return token


async def get_bind_token(session: AsyncSession, *, token_hash: str) -> BindToken | None:
    result = await session.exec(
        select(BindToken)
        .where(col(BindToken.token_hash) == token_hash)
        .execution_options(populate_existing=True)
    )
    return result.first()


async def consume_bind_token(
    session: AsyncSession,
    *,
    token_hash: str,
    fingerprint: str,
    now: datetime | None = None,
) -> BindToken | None:
    """Use the token for the key with `fingerprint`: one conditional update, so of two
    concurrent binders only one wins. Using it again with the *same* key is allowed (it
    reports the existing binding); another key, an unknown or expired token gets None."""
    now = now or utc_now()
    result = await session.exec(
        update(BindToken)
        .where(
            col(BindToken.token_hash) == token_hash,
            col(BindToken.expires_at) > now,
            (col(BindToken.used_at).is_(None))
            | (col(BindToken.used_by_fingerprint) == fingerprint),
        )
        .values(used_at=now, used_by_fingerprint=fingerprint)
        .returning(BindToken)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()
