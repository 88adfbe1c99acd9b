"""A fake Slack Web API (`POST /api/<method>`) that records every call, as a Starlette app.

It answers the methods the front-end uses with the shapes slack_sdk reads (`auth.test`,
`chat.postMessage` with a fresh `ts`, `chat.update`, the streaming trio, `conversations.open`,
…) and `{"ok": true}` to the rest. It can be told to answer one method once with a 429 and
`Retry-After` (`rate_limit_once`) or with an API error (`fail_once`).

    slack = FakeSlackAPI()
    async with serve_in_background(slack.app) as url:
        ...  # SLACK_API_URL = f"{url}/api/"
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> str:
        """The message this call made or changed."""
        return str(self.args.get("ts") or self.answer.get("ts") or "")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        raw = self.args.get("blocks") or []
        return list(json.loads(raw) if isinstance(raw, str) else raw)

    @property
    def block_text(self) -> str:
        """All text in the blocks, flattened (for asserting what a person would read)."""
        return "\n".join(_texts(self.blocks))


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        for key, inner in value.items():
            if key != "text" or not isinstance(inner, str):
                found.extend(_texts(inner))
        return found
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


@dataclass
class FakeSlackAPI:
    team: str = TEAM
    bot_user: str = BOT_USER
    bot_id: str = BOT_ID
    calls: list[Call] = field(default_factory=list)
    socket_url: str = ""
    """What `apps.connections.open` hands out (Socket Mode tests)."""
    _faults: dict[str, deque[Response]] = field(default_factory=lambda: defaultdict(deque))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/api/{method}", self._handle, methods=["POST"])])

    # ---- steering ----------------------------------------------------------------------

    def rate_limit_once(self, method: str, retry_after_s: int = 1) -> None:
        self._faults[method].append(
            JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(retry_after_s)},
            )
        )

    def fail_once(self, method: str, error: str) -> None:
        self._faults[method].append(JSONResponse({"ok": False, "error": error}))

    # ---- reading -----------------------------------------------------------------------

    def of(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]

    @property
    def posts(self) -> list[Call]:
        return self.of("chat.postMessage")

    @property
    def replies(self) -> list[Call]:
        """What changes the conversation: posts, updates and streams."""
        return self.of("chat.postMessage", "chat.update", "chat.startStream")

    async def wait_for(self, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                methods = [c.method for c in self.calls]
                raise AssertionError(f"timed out waiting; Slack saw {methods}")
            await asyncio.sleep(0.02)

    # ---- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            args: dict[str, Any] = json.loads(raw or b"{}")
        else:
            args = dict(parse_qsl(raw.decode()))
        args.update(request.query_params)  # slack_sdk sends some methods' params in the URL
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        recorded = Call(method, args, token, time.monotonic())
        self.calls.append(recorded)
        if self._faults[method]:
            return self._faults[method].popleft()
        recorded.answer = self._answer(method, args)
        return JSONResponse(recorded.answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel") or args.get("channel_id")
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "concierge",
                "team_id": self.team,
                "user_id": self.bot_user,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        if method in {"chat.postMessage", "chat.startStream"}:
            ts = self.new_ts()
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method in {"chat.update", "chat.appendStream", "chat.stopStream"}:
            return {"ok": True, "channel": channel, "ts": args.get("ts")}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[1:]}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1"}}
        return {"ok": True}

    def new_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n:06d}"
