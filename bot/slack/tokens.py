"""The bot token of each installed workspace, refreshed before it expires.

With token rotation on, Slack's bot tokens live 12 hours and each refresh token works once.
`InstalledTokens` is the front-end's `TokenLookup`: bolt's `authorize` (inbound requests)
and every proactive send (outbox, resumed work) get their token here, so both rotate.
A refresh runs under a per-workspace lock in this process and a lease in the database
across processes; the installation is re-read under both before Slack is asked
(`AsyncTokenRotator`), and the new tokens are stored with a compare-and-set on the refresh
token that was spent. Another process that finds the lease taken keeps using the current
token while it is valid, or waits for the new one.

`SLACK_BOT_TOKEN` may be set next to OAuth: it then answers for its own workspace only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.clients import describe
from bot.slack.installations import StoredInstallation, read_installation
from storage import Database, FieldCipher, repositories

log = logging.getLogger(__name__)

REFRESH_BEFORE = timedelta(minutes=120)  # slack-bolt's default
LEASE = timedelta(seconds=30)
CACHE_S = 30.0
RETRY_FAILED_REFRESH_S = 60.0
WAIT_STEP_S = 0.1

_ROTATION_ERRORS = (
    SlackTokenRotationError,
    SlackApiError,
    SlackClientError,
    aiohttp.ClientError,
    TimeoutError,
    KeyError,
    ValueError,
)


class InstalledTokens:
    def __init__(
        self,
        *,
        db: Database,
        cipher: FieldCipher,
        rotator: AsyncTokenRotator,
        fallback: str | None = None,
        refresh_before: timedelta = REFRESH_BEFORE,
        lease: timedelta = LEASE,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._rotator = rotator
        self._fallback = fallback
        self._fallback_team: str | None = None
        self._refresh_before = refresh_before
        self._lease = lease
        self._cache: dict[str, tuple[float, StoredInstallation]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed: dict[str, float] = {}

    @property
    def client(self) -> AsyncWebClient:
        """The token-less client that talks to `oauth.v2.access` (at `SLACK_API_URL`)."""
        return self._rotator.client

    def forget(self, team_id: str) -> None:
        """Drop what is cached for a workspace (reinstalled, uninstalled)."""
        self._cache.pop(team_id, None)
        self._failed.pop(team_id, None)

    async def installation(self, team_id: str) -> StoredInstallation | None:
        """The workspace's installation with a usable bot token (refreshed if due)."""
        cached = self._cache.get(team_id)
        fresh = cached is not None and time.monotonic() - cached[0] < CACHE_S
        if cached is not None and fresh and not self._due(cached[1]):
            return cached[1]
        found = await read_installation(self._db, self._cipher, team_id)
        if found is not None and self._due(found):
            found = await self._rotate(team_id)
        if found is None:
            self._cache.pop(team_id, None)
        else:
            self._cache[team_id] = (time.monotonic(), found)
        return found

    async def bot_token(self, *, team_id: str | None, enterprise_id: str | None) -> str | None:
        if not team_id:
            return None
        found = await self.installation(team_id)
        if found is not None:
            return found.bot_token
        if self._fallback and await self._fallback_team_id() == team_id:
            return self._fallback
        return None

    # ---- rotation ----------------------------------------------------------------------

    def _due(self, found: StoredInstallation) -> bool:
        if found.expires_at is None or not found.refresh_token:
            return False
        if time.monotonic() - self._failed.get(found.team_id, -1e9) < RETRY_FAILED_REFRESH_S:
            return False  # a refresh just failed: the current token until it may work again
        return found.expires_at - datetime.now(UTC) <= self._refresh_before

    @staticmethod
    def _valid(found: StoredInstallation) -> bool:
        return found.expires_at is None or found.expires_at > datetime.now(UTC)

    async def _rotate(self, team_id: str) -> StoredInstallation | None:
        lock = self._locks.setdefault(team_id, asyncio.Lock())
        async with lock:
            # Re-read under the lock: another task (or process) may have refreshed already.
            current = await read_installation(self._db, self._cipher, team_id)
            if current is None or not self._due(current):
                return current
            now = datetime.now(UTC)
            until = now + self._lease
            async with self._db.session() as session:
                leased = await repositories.claim_token_rotation(
                    session, workspace_id=current.workspace_id, until=until, now=now
                )
            if not leased:
                return await self._await_other(team_id, current)
            try:
                # Re-read under the lease: only a refresh token nobody spent is spent.
                latest = await read_installation(self._db, self._cipher, team_id)
                if latest is None or latest.refresh_sealed != current.refresh_sealed:
                    return latest
                return await self._refresh(latest)
            finally:
                async with self._db.session() as session:
                    await repositories.release_token_rotation(
                        session, workspace_id=current.workspace_id, until=until
                    )

    async def _refresh(self, current: StoredInstallation) -> StoredInstallation | None:
        bot = Bot(
            team_id=current.team_id,
            bot_token=current.bot_token,
            bot_id=current.bot_id or "",
            bot_user_id=current.bot_user_id or "",
            bot_refresh_token=current.refresh_token,
            bot_token_expires_at=int(current.expires_at.timestamp())
            if current.expires_at
            else None,
            installed_at=current.installed_at.timestamp(),
        )
        minutes = int(self._refresh_before.total_seconds() // 60)
        try:
            rotated = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=minutes
            )
        except _ROTATION_ERRORS as error:
            self._failed[current.team_id] = time.monotonic()
            log.warning(
                "refreshing the Slack token of %s failed: %s", current.team_id, _describe(error)
            )
            return current if self._valid(current) else None
        if rotated is None or current.refresh_sealed is None:
            return current
        expires = rotated.bot_token_expires_at
        async with self._db.session() as session:
            stored = await repositories.store_rotated_tokens(
                session,
                workspace_id=current.workspace_id,
                previous_refresh=current.refresh_sealed,
                bot_token=rotated.bot_token,
                refresh_token=rotated.bot_refresh_token,
                expires_at=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
                cipher=self._cipher,
            )
        if not stored:
            log.warning("the Slack token of %s changed while it was refreshed", current.team_id)
        else:
            log.info("refreshed the Slack token of %s", current.team_id)
        return await read_installation(self._db, self._cipher, current.team_id)

    async def _await_other(
        self, team_id: str, current: StoredInstallation
    ) -> StoredInstallation | None:
        """Another process holds the lease: keep the current token while it is valid,
        otherwise wait (at most the lease) for the refreshed one."""
        if self._valid(current):
            return current
        deadline = time.monotonic() + self._lease.total_seconds()
        while time.monotonic() < deadline:
            await asyncio.sleep(WAIT_STEP_S)
            latest = await read_installation(self._db, self._cipher, team_id)
            if latest is None or latest.refresh_sealed != current.refresh_sealed:
                return latest
        return None

    async def _fallback_team_id(self) -> str | None:
        if self._fallback_team is None and self._fallback:
            try:
                answer = await self.client.auth_test(token=self._fallback)
            except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
                log.warning("SLACK_BOT_TOKEN could not be checked: %s", _describe(error))
                return None
            self._fallback_team = str(answer.get("team_id") or "")
        return self._fallback_team


def _describe(error: BaseException) -> str:
    if isinstance(error, SlackTokenRotationError):
        return describe(error.api_error)
    return describe(error)
