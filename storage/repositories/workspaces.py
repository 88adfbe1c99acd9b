"""Workspaces, their bot installations and bound Outgoing keys (secrets sealed at rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import FieldCipher, field_aad
from storage.models import Installation, Workspace, new_id, utc_now
from storage.repositories._common import dialect_insert

__all__ = [
    "OutgoingKeyKind",
    "bot_token",
    "claim_token_rotation",
    "claim_welcome",
    "delete_installation",
    "get_installation",
    "get_or_create_workspace",
    "get_workspace",
    "refresh_token",
    "release_token_rotation",
    "release_welcome",
    "save_installation",
    "set_spend_cap",
    "store_rotated_tokens",
]

OutgoingKeyKind = Literal["negotiated", "self_serve"]


async def get_or_create_workspace(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    name: str | None = None,
    now: datetime | None = None,
) -> Workspace:
    """The workspace for (platform, external id), created if missing (race-safe)."""
    await session.exec(
        dialect_insert(session, Workspace)
        .values(
            id=new_id(),
            platform=platform,
            external_id=external_id,
            name=name,
            created_at=now or utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
    )
    result = await session.exec(
        select(Workspace).where(
            col(Workspace.platform) == platform, col(Workspace.external_id) == external_id
        )
    )
    return result.one()


async def get_workspace(
    session: AsyncSession, *, platform: str, external_id: str
) -> Workspace | None:
    result = await session.exec(
        select(Workspace).where(
            col(Workspace.platform) == platform, col(Workspace.external_id) == external_id
        )
    )
    return result.first()


async def set_spend_cap(
    session: AsyncSession, *, platform: str, external_id: str, cents: int | None
) -> None:
    """Set (or with None, reset to the default) what one booking may cost in a workspace."""
    workspace = await get_or_create_workspace(session, platform=platform, external_id=external_id)
    await session.exec(
        update(Workspace).where(col(Workspace.id) == workspace.id).values(spend_cap_cents=cents)
    )


async def save_installation(
    session: AsyncSession,
    *,
    workspace_id: str,
    bot_token: str,
    cipher: FieldCipher,
    bot_user_id: str | None = None,
    bot_id: str | None = None,
    installer_user_id: str | None = None,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    scopes: str | None = None,
    now: datetime | None = None,
) -> Installation:
    """Store (or replace, on reinstall) the workspace's installation; tokens sealed. A
    reinstall is welcomed again and drops any token refresh in progress."""
    values = {
        "bot_user_id": bot_user_id,
        "bot_id": bot_id,
        "bot_token_ciphertext": _seal_bot_token(cipher, workspace_id, bot_token),
        "installer_user_id": installer_user_id,
        "installed_at": now or utc_now(),
        "refresh_token_ciphertext": _seal_refresh_token(cipher, workspace_id, refresh_token),
        "expires_at": expires_at,
        "scopes": scopes,
        "welcomed_at": None,
        "rotation_lease_until": None,
    }
    stmt = dialect_insert(session, Installation).values(
        id=new_id(), workspace_id=workspace_id, **values
    )
    await session.exec(stmt.on_conflict_do_update(index_elements=["workspace_id"], set_=values))
    installation = await get_installation(session, workspace_id=workspace_id)
    assert installation is not None
    return installation


async def get_installation(session: AsyncSession, *, workspace_id: str) -> Installation | None:
    result = await session.exec(
        select(Installation)
        .where(col(Installation.workspace_id) == workspace_id)
        .execution_options(populate_existing=True)
    )
    return result.first()


def bot_token(installation: Installation, *, cipher: FieldCipher) -> str:
    """The installation's bot token in clear."""
    aad = field_aad("installation", "bot_token", installation.workspace_id)
    return cipher.decrypt(installation.bot_token_ciphertext, aad=aad).decode()


def refresh_token(installation: Installation, *, cipher: FieldCipher) -> str | None:
    """The installation's refresh token in clear, if it has one."""
    if installation.refresh_token_ciphertext is None:
        return None
    aad = field_aad("installation", "refresh_token", installation.workspace_id)
    return cipher.decrypt(installation.refresh_token_ciphertext, aad=aad).decode()


def _seal_bot_token(cipher: FieldCipher, workspace_id: str, token: str) -> bytes:
    return cipher.encrypt(token.encode(), aad=field_aad("installation", "bot_token", workspace_id))


def _seal_refresh_token(cipher: FieldCipher, workspace_id: str, token: str | None) -> bytes | None:
    if token is None:
        return None
    aad = field_aad("installation", "refresh_token", workspace_id)
    return cipher.encrypt(token.encode(), aad=aad)


async def delete_installation(session: AsyncSession, *, workspace_id: str) -> bool:
    """Forget the workspace's installation (uninstalled, or its bot token revoked)."""
    result = await session.exec(
        delete(Installation).where(col(Installation.workspace_id) == workspace_id)
    )
    return int(result.rowcount) > 0


async def claim_token_rotation(
    session: AsyncSession, *, workspace_id: str, until: datetime, now: datetime | None = None
) -> bool:
    """Take the lease to refresh the workspace's bot token; False while another process
    holds it. One conditional update, so of two replicas only one refreshes."""
    now = now or utc_now()
    result = await session.exec(
        update(Installation)
        .where(
            col(Installation.workspace_id) == workspace_id,
            (col(Installation.rotation_lease_until).is_(None))
            | (col(Installation.rotation_lease_until) < now),
        )
        .values(rotation_lease_until=until)
        .returning(col(Installation.id))
    )
    return result.first() is not None


async def release_token_rotation(
    session: AsyncSession, *, workspace_id: str, until: datetime
) -> None:
    """Give the lease back, if it is still the one taken until `until`."""
    await session.exec(
        update(Installation)
        .where(
            col(Installation.workspace_id) == workspace_id,
            col(Installation.rotation_lease_until) == until,
        )
        .values(rotation_lease_until=None)
    )


async def store_rotated_tokens(
    session: AsyncSession,
    *,
    workspace_id: str,
    previous_refresh: bytes,
    bot_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    cipher: FieldCipher,
) -> bool:
    """Compare-and-set the refreshed tokens: applied only if the refresh token is still the
    one that was spent (`previous_refresh`, as stored); releases the lease."""
    result = await session.exec(
        update(Installation)
        .where(
            col(Installation.workspace_id) == workspace_id,
            col(Installation.refresh_token_ciphertext) == previous_refresh,
        )
        .values(
            bot_token_ciphertext=_seal_bot_token(cipher, workspace_id, bot_token),
            refresh_token_ciphertext=_seal_refresh_token(cipher, workspace_id, refresh_token),
            expires_at=expires_at,
            rotation_lease_until=None,
        )
        .returning(col(Installation.id))
    )
    return result.first() is not None


async def claim_welcome(
    session: AsyncSession, *, workspace_id: str, now: datetime | None = None
) -> bool:
    """Take the duty of welcoming the installer (once, whoever asks first)."""
    result = await session.exec(
        update(Installation)
        .where(
            col(Installation.workspace_id) == workspace_id,
            col(Installation.welcomed_at).is_(None),
        )
        .values(welcomed_at=now or utc_now())
        .returning(col(Installation.id))
    )
    return result.first() is not None


async def release_welcome(session: AsyncSession, *, workspace_id: str) -> None:
    """The welcome DM could not be delivered: try again later."""
    await session.exec(
        update(Installation)
        .where(col(Installation.workspace_id) == workspace_id)
        .values(welcomed_at=None)
    )
