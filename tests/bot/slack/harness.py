"""Drive the real `serve` app with the Slack front-end over HTTP, with signed requests.

`running_slack` starts the fake Slack Web API, the Outgoing sandbox and `serve` (from
`bot.server.create_app`) with a given model, and yields a `SlackRig` that posts correctly
signed Events API / interactivity / slash-command requests and reads what Slack was asked.
Payload factories build the shapes Slack sends.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from starlette.applications import Starlette

from bot.server import create_app
from bot.services import Services
from bot.settings import Settings
from bot.slack import EVENTS_PATH, SlackFrontEnd
from bot.slack.replier import ReplyPolicy
from conversations.llm import LLM
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    CallAgentSandboxConfig,
    OnegentSandboxConfig,
    RunningCallAgentSandbox,
    RunningOnegentSandbox,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
    serve_in_background,
)
from storage import generate_key
from tests.bot.partners import maybe_call_agent, maybe_onegent
from tests.bot.slack.fake_slack import (
    BOT_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    TEAM,
    FakeSlackAPI,
    Grant,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SECRET_KEY = generate_key()
"""The deployment's one secret key: every process of a test (a restart too) shares it."""
BOT_TOKEN = "xoxb-0000-test-token"
APP_ID = "A0CONCIERGE"
_ids = itertools.count(1)
_ts = itertools.count(1)


def new_ts() -> str:
    n = next(_ts)
    return f"{1_700_000_000 + n}.{n:06d}"


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


# ---- payloads ---------------------------------------------------------------------------


def event_callback(
    event: Mapping[str, Any], *, event_id: str | None = None, team: str = TEAM
) -> dict[str, Any]:
    return {
        "token": "verification-token",
        "team_id": team,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
    }


def dm(
    text: str, *, user: str = "U0ALICE", channel: str = "D0ALICE", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": new_ts(),
        "team": TEAM,
        **extra,
    }


def channel_message(
    text: str, *, user: str = "U0ALICE", channel: str = "C0PLANS", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": new_ts(),
        "team": TEAM,
        **extra,
    }


def mention(
    text: str, *, user: str = "U0ALICE", channel: str = "C0PLANS", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "channel": channel,
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": new_ts(),
        "team": TEAM,
        **extra,
    }


def as_message_copy(app_mention: Mapping[str, Any]) -> dict[str, Any]:
    """The `message.channels` event Slack sends for the same message as an `app_mention`."""
    return {**app_mention, "type": "message", "channel_type": "channel"}


def block_action(
    value: str,
    *,
    channel: str,
    message_ts: str,
    thread_ts: str | None = None,
    action_id: str = "btn-0",
    user: str = "U0ALICE",
    team: str = TEAM,
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "user": BOT_USER}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "test"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": team},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": f"{next(_ids)}.trigger",
        "channel": {"id": channel, "name": "directmessage"},
        "message": message,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "Details"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def slash_command(
    text: str, *, user: str = "U0ALICE", channel: str = "C0PLANS", team: str = TEAM
) -> dict[str, str]:
    return {
        "token": "verification-token",
        "team_id": team,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "plans",
        "user_id": user,
        "user_name": "alice",
        "command": "/concierge",
        "text": text,
        "api_app_id": APP_ID,
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": f"{next(_ids)}.trigger",
    }


# ---- the rig ----------------------------------------------------------------------------


@dataclass
class SlackRig:
    url: str
    slack: FakeSlackAPI
    http: httpx.AsyncClient
    app: Starlette
    outgoing: RunningSandbox
    front_end: SlackFrontEnd
    calls: RunningCallAgentSandbox | None = None
    onegent: RunningOnegentSandbox | None = None

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def post(
        self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Content-Type": content_type, **sign(body), **(headers or {})}
        return await self.http.post(f"{self.url}{EVENTS_PATH}", content=body, headers=sent)

    async def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        team: str = TEAM,
    ) -> httpx.Response:
        body = json.dumps(event_callback(event, event_id=event_id, team=team)).encode()
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, "application/json", headers if retry else None)

    async def interaction(self, payload: Mapping[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    async def command(self, text: str, **kwargs: Any) -> httpx.Response:
        body = urlencode(slash_command(text, **kwargs)).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    async def start_install(self, http: httpx.AsyncClient | None = None) -> str:
        """`GET /slack/install` as a browser would: the state Slack will send back."""
        client = http or self.http
        started = await client.get(f"{self.url}/slack/install")
        assert started.status_code == 302, started.text
        query = parse_qs(urlsplit(started.headers["location"]).query)
        return query["state"][0]

    async def finish_install(
        self, code: str, state: str, http: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        """Slack sends the installer back to `/slack/oauth_redirect`."""
        client = http or self.http
        query = urlencode({"code": code, "state": state})
        return await client.get(f"{self.url}/slack/oauth_redirect?{query}")

    async def install(self, grant: Grant) -> httpx.Response:
        """The whole OAuth install of a workspace, in a fresh browser."""
        async with httpx.AsyncClient(timeout=10) as browser:
            state = await self.start_install(browser)
            return await self.finish_install(self.slack.grant(grant), state, browser)

    async def settle(self, timeout_s: float = 15.0) -> None:
        """Wait until every turn the front-end started has finished."""
        await self.slack.wait_for(lambda: self.services.work.running == 0, timeout_s)


def slack_settings(database_url: str, slack_url: str, outgoing_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "CONCIERGE_DATABASE_URL": database_url,
        "CONCIERGE_SECRET_KEY": SECRET_KEY,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
        "OUTGOING_API_URL": outgoing_url,
        "OUTGOING_API_KEY": DEFAULT_NEGOTIATED_KEY,
    }
    values.update(extra)
    return Settings(**values)


def oauth_settings() -> dict[str, Any]:
    """Multi-workspace mode: no SLACK_BOT_TOKEN, installs through OAuth."""
    return {
        "SLACK_BOT_TOKEN": None,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def running_slack(
    llm: LLM | None,
    *,
    database_url: str,
    sandbox: SandboxConfig | None = None,
    policy: ReplyPolicy | None = None,
    slack: FakeSlackAPI | None = None,
    calls: CallAgentSandboxConfig | None = None,
    onegent: OnegentSandboxConfig | None = None,
    **settings: Any,
) -> AsyncIterator[SlackRig]:
    slack = slack or FakeSlackAPI()
    port = free_port()
    settings.setdefault("CONCIERGE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    async with (
        serve_in_background(slack.app) as slack_url,
        running_outgoing_sandbox(sandbox or SandboxConfig.fast()) as outgoing,
        maybe_call_agent(calls) as (call_agent, call_settings),
        maybe_onegent(onegent) as (onegent_sandbox, onegent_settings),
    ):
        settings.update(call_settings | onegent_settings)
        config = slack_settings(database_url, slack_url, outgoing.base_url, **settings)
        front_end = SlackFrontEnd(config, policy=policy or ReplyPolicy(progress_min_interval_s=0))
        app = create_app(config, front_ends=[front_end], llm=llm)
        async with (
            serve_in_background(app, port=port) as url,
            httpx.AsyncClient(timeout=10) as http,
        ):
            yield SlackRig(url, slack, http, app, outgoing, front_end, call_agent, onegent_sandbox)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'slack.db'}"
