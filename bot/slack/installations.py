"""Slack installations kept in our database, behind slack_sdk's installation-store interface.

One bot installation per workspace (team); a reinstall replaces it. The bot token and the
refresh token (token rotation) are sealed with `CONCIERGE_SECRET_KEY`, bound to their row.
Org-wide (Enterprise Grid) installs are refused: a workspace here is one team.
Deleting an installation (uninstall, revoked bot token) also forgets the partner keys bound
to that workspace and its outstanding bind tokens (`Workspaces.revoke`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_bolt.error import BoltError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from sqlalchemy.exc import SQLAlchemyError

from bot.slack.addressing import PLATFORM
from conversations.workspaces import Workspaces
from storage import Database, FieldCipher, repositories

log = logging.getLogger(__name__)


class InstallRefused(BoltError):
    """An installation this deployment does not take (org-wide installs)."""


@dataclass(frozen=True)
class StoredInstallation:
    """A workspace's installation with its tokens in clear (memory only)."""

    workspace_id: str
    team_id: str
    team_name: str | None
    bot_token: str
    bot_user_id: str | None
    bot_id: str | None
    installer_user_id: str | None
    refresh_token: str | None
    refresh_sealed: bytes | None
    """The refresh token as stored: what a compare-and-set of a rotation checks against."""
    expires_at: datetime | None
    scopes: tuple[str, ...]
    welcomed: bool
    installed_at: datetime

    def __repr__(self) -> str:  # never print a token
        return f"StoredInstallation(team_id={self.team_id!r}, tokens='***')"


async def read_installation(
    db: Database, cipher: FieldCipher, team_id: str
) -> StoredInstallation | None:
    async with db.session(read_only=True) as session:
        workspace = await repositories.get_workspace(
            session, platform=PLATFORM, external_id=team_id
        )
        if workspace is None:
            return None
        row = await repositories.get_installation(session, workspace_id=workspace.id)
        if row is None:
            return None
    return StoredInstallation(
        workspace_id=workspace.id,
        team_id=team_id,
        team_name=workspace.name,
        bot_token=repositories.bot_token(row, cipher=cipher),
        bot_user_id=row.bot_user_id,
        bot_id=row.bot_id,
        installer_user_id=row.installer_user_id,
        refresh_token=repositories.refresh_token(row, cipher=cipher),
        refresh_sealed=row.refresh_token_ciphertext,
        expires_at=row.expires_at,
        scopes=tuple(s for s in (row.scopes or "").split(",") if s),
        welcomed=row.welcomed_at is not None,
        installed_at=row.installed_at,
    )


def _expires(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


class SlackInstallationStore(AsyncInstallationStore):
    """`AsyncInstallationStore` over our database (bot installations only: the concierge
    asks for no user scopes)."""

    def __init__(
        self,
        *,
        db: Database,
        cipher: FieldCipher,
        workspaces: Workspaces,
        on_change: Callable[[str], None] = lambda team_id: None,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._workspaces = workspaces
        self._on_change = on_change

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self._save(installation.to_bot(), installer=installation.user_id or None)

    async def async_save_bot(self, bot: Bot) -> None:
        await self._save(bot, installer=None)

    async def _save(self, bot: Bot, *, installer: str | None) -> None:
        if bot.is_enterprise_install or (bot.enterprise_id and not bot.team_id):
            raise InstallRefused("org-wide installs are not supported; install per workspace")
        if not bot.team_id or not bot.bot_token:
            raise InstallRefused("Slack's answer named no workspace or bot token")
        try:
            await self._store(bot, installer=installer)
        except SQLAlchemyError as error:
            log.error("storing the installation of %s failed: %s", bot.team_id, error)
            raise BoltError("the installation could not be saved") from error
        self._on_change(bot.team_id)
        log.info("Slack workspace %s installed the app", bot.team_id)

    async def _store(self, bot: Bot, *, installer: str | None) -> None:
        assert bot.team_id is not None
        async with self._db.session() as session:
            workspace = await repositories.get_or_create_workspace(
                session, platform=PLATFORM, external_id=bot.team_id, name=bot.team_name
            )
            if bot.team_name and workspace.name != bot.team_name:
                workspace.name = bot.team_name
                session.add(workspace)
            await repositories.save_installation(
                session,
                workspace_id=workspace.id,
                bot_token=bot.bot_token,
                cipher=self._cipher,
                bot_user_id=bot.bot_user_id or None,
                bot_id=bot.bot_id or None,
                installer_user_id=installer,
                refresh_token=bot.bot_refresh_token,
                expires_at=_expires(bot.bot_token_expires_at),
                scopes=",".join(bot.bot_scopes or ()) or None,
            )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await read_installation(self._db, self._cipher, team_id) if team_id else None
        if found is None:
            return None
        return Bot(
            team_id=found.team_id,
            team_name=found.team_name,
            bot_token=found.bot_token,
            bot_id=found.bot_id or "",
            bot_user_id=found.bot_user_id or "",
            bot_scopes=list(found.scopes),
            bot_refresh_token=found.refresh_token,
            bot_token_expires_at=_epoch(found.expires_at),
            installed_at=found.installed_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await read_installation(self._db, self._cipher, team_id) if team_id else None
        if found is None or (user_id is not None and user_id != found.installer_user_id):
            return None
        return Installation(
            team_id=found.team_id,
            team_name=found.team_name,
            bot_token=found.bot_token,
            bot_id=found.bot_id,
            bot_user_id=found.bot_user_id,
            bot_scopes=list(found.scopes),
            bot_refresh_token=found.refresh_token,
            bot_token_expires_at=_epoch(found.expires_at),
            user_id=found.installer_user_id or "",
            installed_at=found.installed_at.timestamp(),
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            await self.revoke(team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        # Only user tokens are per user, and the concierge keeps none: a user's revoked
        # token leaves the bot's installation alone.
        if team_id and user_id is None:
            await self.revoke(team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            await self.revoke(team_id)

    async def revoke(self, team_id: str) -> None:
        await self._workspaces.revoke(platform=PLATFORM, workspace_external_id=team_id)
        self._on_change(team_id)
