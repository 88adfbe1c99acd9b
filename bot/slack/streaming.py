"""`SlackTextStream`: the model's text streamed into a thread as it is written
(`chat.startStream`/`appendStream`/`stopStream` through slack_sdk's `chat_stream`), with the
whole text handed back to the replier when streaming fails."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.clients import SLACK_ERRORS, describe
from bot.slack.render import neutralise_markdown

log = logging.getLogger(__name__)

MAX_STREAM_CHARS = 11_000


class FallbackPoster(Protocol):
    async def post_fallback_text(self, text: str, stream_ts: str | None) -> None:
        """After a failed stream: put the whole text in the stream's message, or post it."""
        ...


class SlackTextStream:
    """The model's text as it is written, streamed into the thread (markdown)."""

    def __init__(
        self,
        replier: FallbackPoster,
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
        except SLACK_ERRORS as error:
            self._failed = True
            log.warning("streaming into %s failed: %s", self._args["channel"], describe(error))

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
            except SLACK_ERRORS as error:
                log.warning("stopping the stream failed: %s", describe(error))
        stream_ts = self._stream.ts if self._stream is not None else None
        await self._replier.post_fallback_text(text, stream_ts)
