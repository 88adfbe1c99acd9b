"""`SlackReplier`: the core's `Replier` for one Slack conversation (a DM or a thread).

- `send` posts the rendered reply; a reply whose `key` was posted before replaces that
  message (`chat.update`), and the first reply after a finished status line replaces the
  status line, so a search's "Searching…" message turns into its result cards.
- `progress` posts one status line per key and refreshes it with `chat.update` no more often
  than `progress_min_interval_s` (Slack's `chat.update` is Tier 3, about 50 a minute).
- `stream` streams the model's text with `chat.startStream`/`appendStream`/`stopStream` in
  threads (streams must reply to a message), and falls back to one post if streaming fails.
- `begin`/`finish` set and clear the thread status (`assistant.threads.setStatus`).

Slack failures are retried by the client's retry handlers; what still fails is logged and,
for a turn's replier, swallowed (the turn goes on). The outlet's replier raises
`SlackDeliveryError` instead, so the outbox keeps the message and retries later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.clients import SlackClients
from bot.slack.memory import MessageIndex, Posted, ThreadBook
from bot.slack.render import (
    SlackMessage,
    neutralise_markdown,
    render_reply,
    render_status,
)
from conversations.replies import Progress, Reply, TextStream
from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

MAX_STREAM_CHARS = 11_000
THINKING = "is thinking…"
WORKING = "is working on it…"


class SlackDeliveryError(Exception):
    """A Slack call failed after the client's retries."""


@dataclass(frozen=True)
class ReplyPolicy:
    progress_min_interval_s: float = 3.0
    stream_buffer_chars: int = 200


@dataclass
class SlackShared:
    """What every replier of one front-end shares."""

    clients: SlackClients
    messages: MessageIndex = field(default_factory=MessageIndex)
    threads: ThreadBook = field(default_factory=ThreadBook)
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)


@dataclass
class _Status:
    started: float
    last_update: float
    update: Progress
    posted: Posted | None = None


_SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)


def _describe(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or error.response.status_code)
    return type(error).__name__


class SlackReplier:
    def __init__(
        self,
        shared: SlackShared,
        address: ConversationAddress,
        *,
        recipient: str | None = None,
        status_thread: str | None = None,
        raise_errors: bool = False,
    ) -> None:
        self.address = address
        self._shared = shared
        self._recipient = recipient
        self._status_thread = status_thread
        self._raise = raise_errors
        self._lock = asyncio.Lock()
        self._statuses: dict[str, _Status] = {}
        self._replaceable: list[_Status] = []
        self._thread_status_set = False

    # ---- Replier -----------------------------------------------------------------------

    async def send(self, reply: Reply) -> None:
        async with self._lock:
            target = self._shared.messages.get(self.address, reply.key) if reply.key else None
            if target is None and self._replaceable:
                target = self._replaceable.pop().posted
            await self._settle_replaceable()
            first: Posted | None = None
            for index, message in enumerate(render_reply(reply)):
                posted = None
                if index == 0 and target is not None:
                    posted = await self._update(target, message, reply, index)
                if posted is None:
                    posted = await self._post(message, reply, index)
                if index == 0:
                    first = posted
            if reply.key and first is not None:
                self._shared.messages.put(self.address, reply.key, first)

    async def progress(self, update: Progress) -> None:
        async with self._lock:
            now = time.monotonic()
            status = self._statuses.get(update.key)
            if update.done:
                if status is not None:
                    del self._statuses[update.key]
                    status.update = update
                    if status.posted is not None:
                        self._replaceable.append(status)
                return
            if status is None:
                status = _Status(started=now, last_update=now, update=update)
                self._statuses[update.key] = status
                await self._settle_replaceable()
                await self._set_thread_status(WORKING, [update.text])
                status.posted = await self._post_quietly(render_status(update))
                return
            status.update = update
            interval = self._shared.policy.progress_min_interval_s
            if status.posted is not None and now - status.last_update >= interval:
                status.last_update = now
                await self._update_quietly(status.posted, render_status(update))

    async def stream(self) -> TextStream | None:
        thread = self.address.thread_id
        if not thread:
            return None  # Slack streams only as a reply in a thread; a DM's top level posts once
        if not self.address.chat_id.startswith("D") and not self._recipient:
            return None  # streaming into a channel needs the person it answers
        async with self._lock:
            await self._settle_replaceable()
        client = await self._client_or_none()
        if client is None:
            return None
        self._shared.threads.join(self.address)
        return SlackTextStream(
            self,
            client,
            channel=self.address.chat_id,
            thread_ts=thread,
            team=self.address.workspace_id,
            user=self._recipient,
            buffer_chars=self._shared.policy.stream_buffer_chars,
        )

    # ---- turn bracket ------------------------------------------------------------------

    async def begin(self) -> None:
        """Show Slack's own "is thinking…" status in the thread while the turn starts."""
        await self._set_thread_status(THINKING, None)

    async def finish(self) -> None:
        """Settle status lines nothing replaced and clear the thread status."""
        async with self._lock:
            for status in list(self._statuses.values()):
                status.update = Progress(
                    status.update.key,
                    status.update.text,
                    time.monotonic() - status.started,
                    done=True,
                )
                if status.posted is not None:
                    self._replaceable.append(status)
            self._statuses.clear()
            await self._settle_replaceable()
        if self._thread_status_set:
            await self._set_thread_status("", None)

    # ---- Slack calls -------------------------------------------------------------------

    async def _client_or_none(self) -> AsyncWebClient | None:
        return await self._shared.clients.client_for(self.address.workspace_id)

    async def _call(
        self, what: str, call: Callable[[AsyncWebClient], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        client = await self._client_or_none()
        if client is None:
            raise SlackDeliveryError(f"no Slack installation for {self.address.workspace_id}")
        try:
            return await call(client)
        except _SLACK_ERRORS as error:
            raise SlackDeliveryError(f"{what}: {_describe(error)}") from error

    def _failed(self, error: SlackDeliveryError) -> None:
        log.warning("Slack delivery to %s failed: %s", self.address.chat_id, error)
        if self._raise:
            raise error

    async def _post(self, message: SlackMessage, reply: Reply | None, index: int) -> Posted | None:
        try:
            return await self._post_raw(message)
        except SlackDeliveryError as error:
            if reply is not None and _invalid_blocks(error):
                # A picture Slack could not fetch fails the whole message: send it without.
                plain = render_reply(reply, images=False)
                if index < len(plain):
                    try:
                        return await self._post_raw(plain[index])
                    except SlackDeliveryError as again:
                        error = again
            self._failed(error)
            return None

    async def _post_raw(self, message: SlackMessage) -> Posted:
        args: dict[str, Any] = {
            "channel": self.address.chat_id,
            "text": message.text,
            "blocks": list(message.blocks),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if self.address.thread_id:
            args["thread_ts"] = self.address.thread_id
        answer = await self._call("chat.postMessage", lambda c: c.chat_postMessage(**args))
        self._shared.threads.join(self.address)
        return Posted(str(answer.get("channel") or self.address.chat_id), str(answer["ts"]))

    async def _update(
        self, target: Posted, message: SlackMessage, reply: Reply | None, index: int
    ) -> Posted | None:
        """Replace `target`; None when it cannot be updated (the caller posts instead)."""
        try:
            return await self._update_raw(target, message)
        except SlackDeliveryError as error:
            if reply is not None and _invalid_blocks(error):
                plain = render_reply(reply, images=False)
                if index < len(plain):
                    try:
                        return await self._update_raw(target, plain[index])
                    except SlackDeliveryError as again:
                        error = again
            log.info("could not update %s (%s); posting anew", target.ts, error)
            return None

    async def _update_raw(self, target: Posted, message: SlackMessage) -> Posted:
        await self._call(
            "chat.update",
            lambda c: c.chat_update(
                channel=target.channel,
                ts=target.ts,
                text=message.text,
                blocks=list(message.blocks),
            ),
        )
        return target

    async def _post_quietly(self, message: SlackMessage) -> Posted | None:
        try:
            return await self._post_raw(message)
        except SlackDeliveryError as error:
            log.warning("status line in %s not posted: %s", self.address.chat_id, error)
            return None

    async def _update_quietly(self, target: Posted, message: SlackMessage) -> None:
        try:
            await self._update_raw(target, message)
        except SlackDeliveryError as error:
            log.info("status line %s not refreshed: %s", target.ts, error)

    async def _settle_replaceable(self) -> None:
        """Status lines that no reply replaced show that they finished."""
        while self._replaceable:
            status = self._replaceable.pop(0)
            if status.posted is not None:
                await self._update_quietly(status.posted, render_status(status.update))

    async def _set_thread_status(self, status: str, loading: list[str] | None) -> None:
        if not self._status_thread:
            return
        thread = self._status_thread
        try:
            await self._call(
                "assistant.threads.setStatus",
                lambda c: c.assistant_threads_setStatus(
                    channel_id=self.address.chat_id,
                    thread_ts=thread,
                    status=status,
                    loading_messages=loading,
                ),
            )
            self._thread_status_set = bool(status)
        except SlackDeliveryError as error:
            log.debug("thread status not set in %s: %s", self.address.chat_id, error)

    async def post_fallback_text(self, text: str, stream_ts: str | None) -> None:
        """After a failed stream: put the whole text in the stream's message, or post it."""
        if stream_ts is not None:
            target = Posted(self.address.chat_id, stream_ts)
            if await self._update(target, render_reply(Reply(text=text))[0], None, 0):
                return
        await self.send(Reply(text=text))


def _invalid_blocks(error: SlackDeliveryError) -> bool:
    cause = error.__cause__
    return isinstance(cause, SlackApiError) and cause.response.get("error") == "invalid_blocks"


class SlackTextStream:
    """The model's text as it is written, streamed into the thread (markdown)."""

    def __init__(
        self,
        replier: SlackReplier,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        team: str,
        user: str | None,
        buffer_chars: int,
    ) -> None:
        self._replier = replier
        self._client = client
        self._args: dict[str, Any] = {
            "channel": channel,
            "thread_ts": thread_ts,
            "buffer_size": buffer_chars,
        }
        if user:
            self._args.update(recipient_team_id=team, recipient_user_id=user)
        self._stream: AsyncChatStream | None = None
        self._parts: list[str] = []
        self._size = 0
        self._held = ""
        self._failed = False

    async def append(self, delta: str) -> None:
        text = self._held + delta
        # A trailing `<` waits for the next delta: it may open a Slack token to neutralise.
        self._held = "<" if text.endswith("<") else ""
        text = text[:-1] if self._held else text
        text = text[: max(0, MAX_STREAM_CHARS - self._size)]
        if not text:
            return
        self._size += len(text)
        self._parts.append(text)
        if self._failed:
            return
        try:
            if self._stream is None:
                self._stream = await self._client.chat_stream(**self._args)
            await self._stream.append(markdown_text=neutralise_markdown(text))
        except _SLACK_ERRORS as error:
            self._failed = True
            log.warning("streaming into %s failed: %s", self._args["channel"], _describe(error))

    async def close(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            await self.append(held)
        text = "".join(self._parts)
        if not text.strip():
            return
        if not self._failed and self._stream is not None:
            try:
                await self._stream.stop()
                return
            except _SLACK_ERRORS as error:
                log.warning("stopping the stream failed: %s", _describe(error))
        stream_ts = self._stream.ts if self._stream is not None else None
        await self._replier.post_fallback_text(text, stream_ts)
