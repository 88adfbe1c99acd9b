"""A fake Slack Web API (`POST /api/<method>`) that records every call, as a Starlette app.

It answers the methods the front-end uses with the shapes slack_sdk reads (`auth.test`,
`chat.postMessage` with a fresh `ts`, `chat.postEphemeral` with a `message_ts`, `chat.update`,
the streaming trio, `conversations.open` (the DM `D…` of user `U…`), `users.info`, …) and
`{"ok": true}` to the rest. It can be told to answer one method once with a 429 and
`Retry-After` (`rate_limit_once`) or with an API error (`fail_once`).

OAuth: `grant` registers an authorization code for a workspace; `oauth.v2.access` checks
the app's credentials (HTTP Basic), trades a code once for a bot token (with a refresh token
and `expires_in` when the grant rotates), and trades each refresh token once for new ones.
`auth.test` answers for the workspace a token was issued to.

Files (`files_upload_v2`): `files.getUploadURLExternal` hands out an upload URL on this same
server, the bytes POSTed there are kept, and `files.completeUploadExternal` shares the file
in `channel_id` (and `thread_ts`) with its `initial_comment`: `files` lists what was shared,
as a person would see it. A token without `files:write` gets `missing_scope`.

    slack = FakeSlackAPI()
    async with serve_in_background(slack.app) as url:
        ...  # SLACK_API_URL = f"{url}/api/"
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
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
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret-0123456789"
SCOPES = (
    "app_mentions:read,assistant:write,channels:history,channels:read,chat:write,commands,"
    "files:write,groups:history,groups:read,im:history,im:write,mpim:history,users:read"
)
TOKEN_LIFETIME_S = 43_200


@dataclass
class Grant:
    """What one installation in the fake gives out."""

    team: str
    installer: str
    team_name: str = "Test"
    rotation: bool = False
    scopes: str = SCOPES
    enterprise: bool = False
    lifetime_s: int = TOKEN_LIFETIME_S
    """How long the installed token lives (rotation); refreshed tokens live 12 hours."""


@dataclass
class Issued:
    team: str
    bot_user: str
    scopes: str


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
    def buttons(self) -> dict[str, str]:
        """label → value of every button on the message."""
        return {
            element["text"]["text"]: element["value"]
            for block in self.blocks
            if block["type"] == "actions"
            for element in block["elements"]
            if element.get("type") == "button"
        }

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
class Upload:
    """One file the bot uploads: announced, its bytes received, then shared somewhere."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    comment: str | None = None
    shared: bool = False


@dataclass
class FakeSlackAPI:
    team: str = TEAM
    bot_user: str = BOT_USER
    bot_id: str = BOT_ID
    calls: list[Call] = field(default_factory=list)
    socket_url: str = ""
    """What `apps.connections.open` hands out (Socket Mode tests)."""
    scopes: str = SCOPES
    """`X-OAuth-Scopes` of tokens the fake did not issue (single-workspace tests)."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    """`conversations.members` per channel; a channel not here answers `missing_scope`."""
    refresh_delay_s: float = 0.0
    post_delay_s: float = 0.0
    """How long `chat.postMessage` takes to answer (a slow Slack)."""
    issued: dict[str, Issued] = field(default_factory=dict)
    _codes: dict[str, Grant] = field(default_factory=dict)
    _refresh: dict[str, tuple[Grant, bool]] = field(default_factory=dict)
    _faults: dict[str, deque[Response]] = field(default_factory=lambda: defaultdict(deque))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    uploads: dict[str, Upload] = field(default_factory=dict)
    """Every upload by file id, shared or not."""

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._handle, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
            ]
        )

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

    def break_down(self, method: str, times: int, status: int = 502) -> None:
        """The next `times` calls of `method` get an HTML error page (a broken proxy)."""
        for _ in range(times):
            self._faults[method].append(
                Response(b"<html>Bad Gateway</html>", status_code=status, media_type="text/html")
            )

    def grant(self, grant: Grant) -> str:
        """A one-time authorization code for installing in `grant.team`."""
        code = f"code-{secrets.token_hex(8)}"
        self._codes[code] = grant
        return code

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        admin: bool = False,
        owner: bool = False,
        email: str | None = None,
        phone: str | None = None,
    ) -> None:
        profile = {"display_name": name, "real_name": f"{name} Example"}
        if email:
            profile["email"] = email
        if phone:
            profile["phone"] = phone
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": f"{name} Example",
            "is_admin": admin,
            "is_owner": owner,
            "profile": profile,
        }

    @property
    def refreshes(self) -> list[Call]:
        return [c for c in self.of("oauth.v2.access") if c.args.get("grant_type")]

    # ---- reading -----------------------------------------------------------------------

    def of(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]

    @property
    def posts(self) -> list[Call]:
        return self.of("chat.postMessage")

    @property
    def ephemerals(self) -> list[Call]:
        """Messages only one person sees (`chat.postEphemeral`)."""
        return self.of("chat.postEphemeral")

    @property
    def files(self) -> list[Upload]:
        """Files shared in a conversation (`files.completeUploadExternal` succeeded), in order."""
        return [u for u in self.uploads.values() if u.shared]

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
        if token is None and "token" in args and method != "oauth.v2.access":
            token = str(args["token"])
        recorded = Call(method, args, token, time.monotonic())
        self.calls.append(recorded)
        if method == "chat.postMessage":
            await asyncio.sleep(self.post_delay_s)
        if self._faults[method]:
            return self._faults[method].popleft()
        if method == "oauth.v2.access":
            recorded.answer = await self._oauth(args, auth)
            return JSONResponse(recorded.answer)
        issued = self.issued.get(token or "")
        scopes = issued.scopes if issued else self.scopes
        if method.startswith("files.") and "files:write" not in scopes.split(","):
            recorded.answer = {"ok": False, "error": "missing_scope", "needed": "files:write"}
        elif method == "files.getUploadURLExternal":
            recorded.answer = self._upload_url(args, str(request.base_url))
        else:
            recorded.answer = self._answer(method, args, token)
        return JSONResponse(recorded.answer, headers={"X-OAuth-Scopes": scopes})

    async def _oauth(self, args: dict[str, Any], auth: str) -> dict[str, Any]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return {"ok": False, "error": "invalid_client_id"}
        if args.get("grant_type") == "refresh_token":
            await asyncio.sleep(self.refresh_delay_s)
            known = self._refresh.get(str(args.get("refresh_token")))
            if known is None or known[1]:
                return {"ok": False, "error": "invalid_refresh_token"}
            self._refresh[str(args["refresh_token"])] = (known[0], True)
            return self._tokens(known[0], refresh_only=True)
        grant = self._codes.pop(str(args.get("code")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        answer = self._tokens(grant, refresh_only=False)
        answer.update(
            {
                "app_id": "A0CONCIERGE",
                "scope": grant.scopes,
                "bot_user_id": f"U{grant.team[1:]}BOT",
                "team": {"id": grant.team, "name": grant.team_name},
                "enterprise": {"id": "E0ORG", "name": "Org"} if grant.enterprise else None,
                "is_enterprise_install": grant.enterprise,
                "authed_user": {"id": grant.installer},
            }
        )
        return answer

    def _tokens(self, grant: Grant, *, refresh_only: bool) -> dict[str, Any]:
        prefix = "xoxe.xoxb" if grant.rotation else "xoxb"
        token = f"{prefix}-{grant.team}-{secrets.token_hex(8)}"
        self.issued[token] = Issued(grant.team, f"U{grant.team[1:]}BOT", grant.scopes)
        answer: dict[str, Any] = {"ok": True, "access_token": token, "token_type": "bot"}
        if grant.rotation:
            refresh = f"xoxe-1-{grant.team}-{secrets.token_hex(8)}"
            self._refresh[refresh] = (grant, False)
            lifetime = TOKEN_LIFETIME_S if refresh_only else grant.lifetime_s
            answer.update({"refresh_token": refresh, "expires_in": lifetime})
        if refresh_only:
            answer["team"] = {"id": grant.team}
        return answer

    def _upload_url(self, args: dict[str, Any], base_url: str) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        length = str(args.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{secrets.token_hex(5).upper()}"
        self.uploads[file_id] = Upload(file_id, filename, int(length))
        return {"ok": True, "upload_url": f"{base_url}upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: Request) -> Response:
        upload = self.uploads.get(request.path_params["file_id"])
        if upload is None:
            return Response(b"not found", status_code=404)
        upload.content = await request.body()
        return Response(f"OK - {len(upload.content)}".encode(), media_type="text/plain")

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            listed = json.loads(str(args.get("files") or "[]"))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for item in listed:
            upload = self.uploads.get(str(item.get("id")))
            if upload is None or upload.content is None or len(upload.content) != upload.length:
                return {"ok": False, "error": "file_not_found"}
            upload.title = item.get("title")
            upload.channel = args.get("channel_id")
            upload.thread_ts = args.get("thread_ts")
            upload.comment = args.get("initial_comment")
            upload.shared = bool(upload.channel)
            shared.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return {"ok": True, "files": shared}

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        channel = args.get("channel") or args.get("channel_id")
        if method == "files.completeUploadExternal":
            return self._complete_upload(args)
        if method == "auth.test":
            issued = self.issued.get(token or "")
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "concierge",
                "team_id": issued.team if issued else self.team,
                "user_id": issued.bot_user if issued else self.bot_user,
                "bot_id": f"B{issued.team[1:]}" if issued else self.bot_id,
                "is_enterprise_install": False,
            }
        if method == "users.info":
            user_id = str(args.get("user") or "")
            if not user_id.startswith(("U", "W")):
                return {"ok": False, "error": "user_not_found"}
            plain = {"id": user_id, "name": user_id.lower(), "profile": {"display_name": ""}}
            return {"ok": True, "user": self.users.get(user_id, plain)}
        if method in {"chat.postMessage", "chat.startStream"}:
            ts = self.new_ts()
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method == "chat.postEphemeral":
            if not args.get("user"):
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "message_ts": self.new_ts()}
        if method in {"chat.update", "chat.appendStream", "chat.stopStream"}:
            return {"ok": True, "channel": channel, "ts": args.get("ts")}
        if method in {"conversations.history", "conversations.replies"}:
            return {
                "ok": True,
                "messages": self._history(str(channel or ""), args.get("ts")),
                "has_more": False,
            }
        if method == "conversations.members":
            members = self.channel_members.get(str(channel or ""))
            if members is None:  # an install without channels:read / groups:read
                return {"ok": False, "error": "missing_scope", "needed": "channels:read"}
            start = int(args.get("cursor") or 0)
            end = start + int(args.get("limit") or 100)
            more = str(end) if end < len(members) else ""
            return {
                "ok": True,
                "members": members[start:end],
                "response_metadata": {"next_cursor": more},
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[1:]}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1"}}
        return {"ok": True}

    def _history(self, channel: str, thread: Any) -> list[dict[str, Any]]:
        """The bot's posts in `channel` (or in one thread of it), newest first, with the
        metadata they were posted with (what `include_all_metadata` returns)."""
        found = []
        for call in self.calls:
            if call.method != "chat.postMessage" or call.args.get("channel") != channel:
                continue
            if thread and thread not in (call.args.get("thread_ts"), call.ts):
                continue
            message: dict[str, Any] = {"ts": call.ts, "text": call.args.get("text", "")}
            metadata = call.args.get("metadata")
            if metadata:
                message["metadata"] = (
                    json.loads(metadata) if isinstance(metadata, str) else metadata
                )
            found.append(message)
        return list(reversed(found))

    def new_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n:06d}"
