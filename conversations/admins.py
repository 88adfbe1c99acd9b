"""Who a workspace's admins are, as each front-end says (they may act for anyone there:
organise any event, decide any agency approval, read exports)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

AdminCheck = Callable[[ConversationAddress, str], Awaitable[bool]]
"""Whether a user is an admin of the address's workspace (False when it cannot tell)."""


class WorkspaceAdmins:
    def __init__(self) -> None:
        self._checks: dict[str, AdminCheck] = {}

    def use(self, platform: str, check: AdminCheck) -> None:
        self._checks[platform] = check

    async def is_admin(self, address: ConversationAddress, user_id: str) -> bool:
        check = self._checks.get(address.platform)
        if check is None:
            return False
        try:
            return await check(address, user_id)
        except Exception:
            log.warning("could not tell whether a user is a workspace admin", exc_info=True)
            return False
