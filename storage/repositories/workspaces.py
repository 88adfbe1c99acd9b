"""Workspaces, their bot installations and bound Outgoing keys (secrets sealed at rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import FieldCipher, field_aad
from storage.models import Installation, Workspace, new_id, utc_now
from storage.repositories._common import dialect_insert

__all__ = [
    "OutgoingKeyKind",
    "bot_token",
    "get_installation",
    "get_or_create_workspace",
    "get_workspace",
    "refresh_token",
    "save_installation",
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
    installer_user_id: str | None = None,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Installation:
    """Store (or replace, on reinstall) the workspace's installation; tokens sealed."""
    bot_sealed = cipher.encrypt(
        bot_token.encode(), aad=field_aad("installation", "bot_token", workspace_id)
    )
    refresh_sealed = (
        None
        if refresh_token is None
        else cipher.encrypt(
            refresh_token.encode(), aad=field_aad("installation", "refresh_token", workspace_id)
        )
    )
    values = {
        "bot_user_id": bot_user_id,
        "bot_token_ciphertext": bot_sealed,
        "installer_user_id": installer_user_id,
        "installed_at": now or utc_now(),
        "refresh_token_ciphertext": refresh_sealed,
        "expires_at": expires_at,
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
