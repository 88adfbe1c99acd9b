"""Drive the real `serve` app with the Telegram front-end: updates posted to its webhook (or
served to its polling loop) and what the fake Bot API was asked.

`running_telegram` starts the fake Bot API, the Outgoing sandbox and `serve` (from
`bot.server.create_app`) with a given model. Webhook mode uses an https public URL (so the
front-end registers its webhook with the fake); polling mode uses the server's own loopback
URL, which also lets the sandbox deliver booking results to it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from bot.server import create_app
from bot.services import Services
from bot.settings import Settings
from bot.telegram import WEBHOOK_PATH, TelegramFrontEnd, TelegramOptions
from bot.telegram.shared import ReplyPolicy
from conversations.llm import LLM
from integrations.retry import RetryPolicy
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
from tests.bot.telegram.fake_telegram import (
    BOT_USER,
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    option_persistent_id,
)

SECRET = "s3cret-Webhook_token-0123456789"
SECRET_KEY = generate_key()
"""The deployment's one secret key: every process of a test (a restart too) shares it."""
PUBLIC_HTTPS = "https://concierge.example"
ALICE: dict[str, Any] = {"id": 1001, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB: dict[str, Any] = {"id": 1002, "is_bot": False, "first_name": "Bob"}
CAROL: dict[str, Any] = {"id": 1003, "is_bot": False, "first_name": "Carol"}
GROUP = -1001234567890
FORUM = -1009876543210
TOPIC = 77

RESULTS_FOOTER = " ideas for "  # the header of the list that ends a page of search results
_update_ids = itertools.count(100_000)
_message_ids = itertools.count(1)


# ---- updates --------------------------------------------------------------------------------


def new_update_id() -> int:
    return next(_update_ids)


def message(
    text: str | None = None,
    *,
    user: Mapping[str, Any] = ALICE,
    chat: int | None = None,
    thread: int | None = None,
    reply_to: Mapping[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    chat_id = int(user["id"]) if chat is None else chat
    kind = "private" if chat_id > 0 else "supergroup"
    body: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": kind}
        | ({"first_name": user["first_name"]} if kind == "private" else {"title": "Plans"}),
        "from": dict(user),
        **extra,
    }
    if chat_id == FORUM:
        body["chat"]["is_forum"] = True
    if text is not None:
        body["text"] = text
        found = entities if entities is not None else _entities(text)
        if found:
            body["entities"] = found
    if thread is not None:
        body["message_thread_id"] = thread
        body["is_topic_message"] = True
        body.setdefault(
            "reply_to_message",
            {
                "message_id": thread,
                "date": int(time.time()),
                "chat": body["chat"],
                "from": dict(BOB),
                "forum_topic_created": {"name": "Weekend", "icon_color": 7322096},
                "message_thread_id": thread,
                "is_topic_message": True,
            },
        )
    if reply_to is not None:
        body["reply_to_message"] = dict(reply_to)
    return body


def _entities(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if text.startswith("/"):
        word = text.split(" ", 1)[0]
        found.append({"type": "bot_command", "offset": 0, "length": len(word)})
    mention = f"@{BOT_USERNAME}"
    at = text.find(mention)
    if at >= 0 and not text.startswith("/"):
        offset = len(text[:at].encode("utf-16-le")) // 2
        found.append({"type": "mention", "offset": offset, "length": len(mention)})
    return found


def update(message_body: Mapping[str, Any], *, update_id: int | None = None) -> dict[str, Any]:
    return {"update_id": update_id or new_update_id(), "message": dict(message_body)}


def bot_added(*, update_id: int, **changes: Any) -> dict[str, Any]:
    """The bot made a member of `GROUP` (`my_chat_member`); `changes` replace its fields."""
    change: dict[str, Any] = {
        "chat": {"id": GROUP, "type": "supergroup", "title": "Plans"},
        "from": ALICE,
        "date": 1,
        "old_chat_member": {
            "status": "left",
            "user": {"id": 7000001, "is_bot": True, "first_name": "C"},
        },
        "new_chat_member": {
            "status": "member",
            "user": {"id": 7000001, "is_bot": True, "first_name": "C"},
        },
    }
    return {"update_id": update_id, "my_chat_member": change | changes}


def location(lat: float, lng: float, **kwargs: Any) -> dict[str, Any]:
    return message(None, location={"latitude": lat, "longitude": lng}, **kwargs)


def bot_message(message_id: int, chat: int, text: str = "Earlier answer") -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "supergroup", "title": "Plans"},
        "from": BOT_USER,
        "text": text,
    }


def callback_query(
    data: str, *, on: int, chat: int, user: Mapping[str, Any] = ALICE, thread: int | None = None
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "message_id": on,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
        "from": BOT_USER,
        "text": "…",
    }
    if thread is not None:
        shown |= {"message_thread_id": thread, "is_topic_message": True}
    return {
        "update_id": new_update_id(),
        "callback_query": {
            "id": f"cq{new_update_id()}",
            "from": dict(user),
            "chat_instance": "ci-1",
            "message": shown,
            "data": data,
        },
    }


def poll_answer(
    poll_id: str, option_ids: list[int], *, user: Mapping[str, Any] | None = ALICE, **extra: Any
) -> dict[str, Any]:
    """`user` answered a non-anonymous poll (`option_ids` empty: took their vote back)."""
    answer: dict[str, Any] = {
        "poll_id": poll_id,
        "option_ids": option_ids,
        "option_persistent_ids": [option_persistent_id(poll_id, i) for i in option_ids],
        **extra,
    }
    if user is not None:
        answer["user"] = dict(user)
    return {"update_id": new_update_id(), "poll_answer": answer}


# ---- the rig ----------------------------------------------------------------------------


@dataclass
class TelegramRig:
    url: str
    telegram: FakeTelegram
    sandbox: RunningSandbox
    http: httpx.AsyncClient
    app: Starlette
    front_end: TelegramFrontEnd
    calls: RunningCallAgentSandbox | None = None
    onegent: RunningOnegentSandbox | None = None

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def post(
        self, body: Mapping[str, Any] | bytes, *, secret: str | bytes | None = SECRET
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = [(b"Content-Type", b"application/json")]
        if secret is not None:
            raw = secret if isinstance(secret, bytes) else secret.encode()
            headers.append((b"X-Telegram-Bot-Api-Secret-Token", raw))
        return await self.http.post(f"{self.url}{WEBHOOK_PATH}", content=content, headers=headers)

    async def deliver(self, body: Mapping[str, Any]) -> None:
        """Post an update as Telegram would, and wait until its work is done."""
        response = await self.post(body)
        assert response.status_code == 200, response.text
        await self.settle()

    async def settle(self, timeout_s: float = 15.0) -> None:
        """Wait until every piece of work the front-end started has finished."""
        await self.telegram.wait_for(lambda: self.services.work.running == 0, timeout_s)

    async def results(self, chat_id: int, searches: int = 1) -> None:
        """Wait until `searches` searches posted their results in `chat_id`: a search is a job
        that answers after the turn, so `deliver` returns before its cards are in."""

        def posted() -> int:
            return sum(RESULTS_FOOTER in t for t in self.telegram.texts(chat_id))

        await self.telegram.wait_for(lambda: posted() >= searches)
        await self.settle()


def telegram_settings(
    database_url: str, telegram_url: str, outgoing_url: str, public_url: str, **extra: Any
) -> Settings:
    return Settings(
        CONCIERGE_DATABASE_URL=database_url,
        CONCIERGE_SECRET_KEY=SECRET_KEY,
        CONCIERGE_PUBLIC_URL=public_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_URL=f"{telegram_url}/bot",
        OUTGOING_API_URL=outgoing_url,
        OUTGOING_API_KEY=DEFAULT_NEGOTIATED_KEY,
        **extra,
    )


FAST = TelegramOptions(
    poll_timeout_s=1,
    retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
    reply=ReplyPolicy(progress_min_interval_s=0, typing_interval_s=0.2),
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_telegram(
    llm: LLM | None,
    *,
    database_url: str,
    polling: bool = False,
    sandbox: SandboxConfig | None = None,
    telegram: FakeTelegram | None = None,
    calls: CallAgentSandboxConfig | None = None,
    onegent: OnegentSandboxConfig | None = None,
    **settings: Any,
) -> AsyncIterator[TelegramRig]:
    fake = telegram or FakeTelegram()
    port = free_port() if polling else 0
    public = f"http://127.0.0.1:{port}" if polling else PUBLIC_HTTPS
    async with (
        serve_in_background(fake.app) as telegram_url,
        running_outgoing_sandbox(sandbox or SandboxConfig.fast()) as outgoing,
        maybe_call_agent(calls) as (call_agent, call_settings),
        maybe_onegent(onegent) as (onegent_sandbox, onegent_settings),
    ):
        settings.update(call_settings | onegent_settings)
        config = telegram_settings(
            database_url, telegram_url, outgoing.base_url, public, **settings
        )
        front_end = TelegramFrontEnd(config, options=FAST)
        app = create_app(config, front_ends=[front_end], llm=llm)
        async with (
            serve_in_background(app, port=port) as url,
            httpx.AsyncClient(timeout=10) as http,
        ):
            yield TelegramRig(
                url, fake, outgoing, http, app, front_end, call_agent, onegent_sandbox
            )
