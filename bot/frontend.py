"""The seam between `serve` and each chat platform's adapter (Slack, Telegram).

A front-end declares its HTTP routes up front (Starlette needs them when the app is built),
gets the running services at start, and offers an `Outlet` so results that arrive later
(webhooks, resumed work) can reach any conversation of its platform.
"""

from __future__ import annotations

from typing import Protocol

from starlette.routing import BaseRoute

from bot.services import Services
from conversations.delivery import Outlet


class FrontEnd(Protocol):
    platform: str

    def routes(self) -> list[BaseRoute]: ...

    async def start(self, services: Services) -> None:
        """Called once the services run; the front-end may now accept traffic."""
        ...

    async def stop(self) -> None:
        """Stop taking new work; running work is drained by the services afterwards."""
        ...

    def outlet(self) -> Outlet: ...
