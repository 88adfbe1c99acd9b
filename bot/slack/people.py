"""Who a Slack user is: their profile name (and contact details, only where the workspace
granted `users:read.email`), and whether they are a workspace admin (`users.info`).

Names are cached for a few minutes per (team, user), so a conversation does not cost a
`users.info` call per message; a failed lookup keeps serving the last known profile.
Admin checks always ask Slack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from bot.slack.clients import SLACK_ERRORS, SlackClients, describe

log = logging.getLogger(__name__)

CONTACT_SCOPE = "users:read.email"
LOOKUP_TIMEOUT_S = 2.0
MEMBERS_TIMEOUT_S = 10.0
MEMBERS_LISTED = 1_000
"""A channel's members are read up to this many (an event of a thousand is a conference)."""
CACHE_S = 300.0
REMEMBERED = 10_000


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    display_name: str | None
    is_admin: bool
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    """Their own time zone (`users.info` `tz`), for "tomorrow" and "tonight"."""
    locale: str | None = None
    """Their Slack language ("en-US", `users.info` with `include_locale`), for amounts."""
    title: str | None = None
    """Their job title as their Slack profile gives it (for event introductions)."""
    is_bot: bool = False

    def __repr__(self) -> str:  # personal data stays out of logs
        return f"SlackProfile(user_id={self.user_id!r})"

    def for_partners(self) -> dict[str, str]:
        """The profile partners may get: a name, and contact details when granted."""
        fields = {"display_name": self.display_name, "email": self.email, "phone": self.phone}
        return {k: v for k, v in fields.items() if v}

    def known(self) -> dict[str, str]:
        """What the concierge keeps of them: what partners may get, their time zone, locale
        and job title (the title only reaches the Events partner, with its approval)."""
        own = {"timezone": self.timezone, "locale": self.locale, "title": self.title}
        return {**self.for_partners(), **{k: v for k, v in own.items() if v}}


class ProfileUnavailable(Exception):
    """Slack could not tell who the user is (the reason is safe to show an admin)."""


class SlackPeople:
    def __init__(self, clients: SlackClients) -> None:
        self._clients = clients
        # An LRU of (when fetched, profile), not a TTL cache: a stale profile still answers
        # while Slack cannot.
        self._cache: LRUCache[tuple[str, str], tuple[float, SlackProfile]] = LRUCache(
            maxsize=REMEMBERED
        )

    async def profile(self, team_id: str, user_id: str) -> SlackProfile | None:
        """The user's profile (cached); None when Slack can't say and nothing is known."""
        key = (team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        try:
            found = await self.fetch(team_id, user_id)
        except ProfileUnavailable as error:
            log.info("no Slack profile for a user of %s: %s", team_id, error)
            return cached[1] if cached is not None else None
        self._remember(key, found)
        return found

    async def fetch(self, team_id: str, user_id: str) -> SlackProfile:
        """Ask Slack now (admin checks); raises `ProfileUnavailable`."""
        token = await self._clients.token_for(team_id)
        if token is None:
            raise ProfileUnavailable("the app is not installed in this workspace")
        client = self._clients.client(token)
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                answer = await client.users_info(user=user_id, include_locale=True)
                identity = await self._clients.identity(token)
        except SLACK_ERRORS as error:
            raise ProfileUnavailable(describe(error)) from error
        user = answer.get("user")
        if not isinstance(user, Mapping):
            raise ProfileUnavailable("no user in the answer")
        found = _profile(user_id, user, contact=CONTACT_SCOPE in identity.scopes)
        self._remember((team_id, user_id), found)
        return found

    async def members(self, team_id: str, channel: str) -> list[str] | None:
        """The people in a channel, bots and deactivated accounts left out (paged
        `conversations.members`, then each one's cached profile); None when Slack can't say
        (no `channels:read` granted, say), so the caller knows only who wrote there."""
        token = await self._clients.token_for(team_id)
        if token is None:
            return None
        client = self._clients.client(token)
        listed: list[str] = []
        cursor: str | None = None
        try:
            async with asyncio.timeout(MEMBERS_TIMEOUT_S):
                while len(listed) < MEMBERS_LISTED:
                    answer = await client.conversations_members(
                        channel=channel, limit=200, cursor=cursor
                    )
                    listed.extend(m for m in answer.get("members") or () if isinstance(m, str))
                    meta = answer.get("response_metadata") or {}
                    cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
                    if not cursor:
                        break
                bot = (await self._clients.identity(token)).user_id
        except (*SLACK_ERRORS, TimeoutError) as error:
            log.info("no member list for a channel of %s: %s", team_id, describe(error))
            return None
        people: list[str] = []
        for user_id in listed[:MEMBERS_LISTED]:
            if user_id == bot:
                continue
            profile = await self.profile(team_id, user_id)
            if profile is not None and not profile.is_bot:
                people.append(user_id)
        return people

    def _remember(self, key: tuple[str, str], found: SlackProfile) -> None:
        self._cache[key] = (time.monotonic(), found)


def _text(value: Any) -> str | None:
    return value.strip()[:255] or None if isinstance(value, str) else None


def _profile(user_id: str, user: Mapping[str, Any], *, contact: bool) -> SlackProfile:
    profile = user.get("profile") if isinstance(user.get("profile"), Mapping) else {}
    assert isinstance(profile, Mapping)
    name = (
        _text(profile.get("display_name"))
        or _text(profile.get("real_name"))
        or _text(user.get("real_name"))
        or _text(user.get("name"))
    )
    admin = any(user.get(flag) is True for flag in ("is_admin", "is_owner", "is_primary_owner"))
    return SlackProfile(
        user_id,
        name,
        admin,
        email=_text(profile.get("email")) if contact else None,
        phone=_text(profile.get("phone")) if contact else None,
        timezone=_text(user.get("tz")),
        locale=_text(user.get("locale")),
        title=_text(profile.get("title")),
        is_bot=user.get("is_bot") is True or user.get("deleted") is True,
    )
