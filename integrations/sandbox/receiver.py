"""A tiny webhook receiver app for tests and local runs: records every POST it gets."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["ReceivedRequest", "WebhookReceiver"]


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    """The status code the receiver answered with."""

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Serve ``receiver.app`` (e.g. with ``serve_in_background``) and point webhooks at it.

    ``statuses`` are answered to the first requests in order (e.g. ``[500]`` to make the
    first delivery fail); afterwards every request gets ``200``.
    """

    def __init__(self, statuses: Iterable[int] = ()) -> None:
        self.received: list[ReceivedRequest] = []
        self._statuses = deque(statuses)
        self._arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    @property
    def accepted(self) -> list[ReceivedRequest]:
        """The requests answered with a 2xx."""
        return [r for r in self.received if 200 <= r.answered < 300]

    async def _handle(self, request: Request) -> Response:
        status = self._statuses.popleft() if self._statuses else 200
        self.received.append(
            ReceivedRequest(
                path=request.url.path,
                headers=dict(request.headers),
                body=await request.body(),
                answered=status,
            )
        )
        self._arrived.set()
        return JSONResponse({"ok": 200 <= status < 300}, status_code=status)

    async def wait_for(self, count: int) -> list[ReceivedRequest]:
        """Wait until ``count`` requests were accepted (2xx); returns those.

        Wrap it in ``asyncio.timeout(...)``.
        """
        while len(self.accepted) < count:
            self._arrived.clear()
            await self._arrived.wait()
        return self.accepted
