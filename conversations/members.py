"""Who is in a chat, as each front-end can list it (Slack's `conversations.members`): for
"add everyone here" and for closing a group's vote once everyone has voted."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

MemberList = Callable[[ConversationAddress], Awaitable[list[str] | None]]
"""The user ids of the people in the address's chat; None when the platform cannot list
them (a Telegram group)."""


class ChatMembers:
    def __init__(self) -> None:
        self._lists: dict[str, MemberList] = {}

    def use(self, platform: str, members: MemberList) -> None:
        self._lists[platform] = members

    async def of(self, address: ConversationAddress) -> list[str] | None:
        listing = self._lists.get(address.platform)
        if listing is None:
            return None
        try:
            return await listing(address)
        except Exception:
            log.warning("could not list the chat's members", exc_info=True)
            return None
