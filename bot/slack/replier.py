"""`SlackReplier`: the core's `Replier` for one Slack conversation (a DM or a thread).

- `send` posts the rendered reply; a reply whose `key` was posted before (a reply or a
  status line, by any replier of any process: `SlackRecords`) replaces that message
  (`chat.update`), and the first reply after a finished status line replaces the status
  line, so a search's "Searching…" message turns into its result cards.
- `progress` posts one status line per key, records it, and refreshes it with `chat.update`
  no more often than `progress_min_interval_s` per process (Slack's `chat.update` is Tier 3,
  about 50 a minute); a line posted elsewhere (another process, before a restart) is
  refreshed or finished in place, never posted twice.
- `stream` streams the model's text with `chat.startStream`/`appendStream`/`stopStream` in
  threads (streams must reply to a message), and falls back to one post if streaming fails.
- `begin`/`finish` set and clear the thread status (`assistant.threads.setStatus`).
- A reply `private_to` someone is a normal post in a DM; anywhere else (a channel, a group
  DM, a thread) it is an ephemeral message only that person sees (`chat.postEphemeral`, in
  the thread if there is one), never a visible post. Ephemeral messages cannot be edited, so
  such a reply replaces nothing and is not recorded under its `key` (its own running status
  line under that key is finished instead). Where Slack refuses the ephemeral message (the
  person or the bot is not in the channel, …) it goes to the person's DM with the bot; a
  reply `private_chat` (a question answered by typing) goes straight to the DM.
- A reply with a file is uploaded (`files_upload_v2`: `files.getUploadURLExternal`, the
  bytes to the upload URL, `files.completeUploadExternal`) into the conversation (its
  thread too), the text as its comment. A file `private_to` someone outside their DM goes
  to their DM (ephemeral messages cannot carry files) and the conversation gets nothing.
  A file replaces nothing and is not recorded under its `key`.

An outbox delivery (`send_once`) carries its key in the metadata of what it posts; one tried
before (its sender may have died between Slack's answer and marking it sent) is looked for
in the conversation first and not posted again.

Slack failures are retried by the client's retry handlers; what still fails is logged and,
for a turn's replier, swallowed (the turn goes on). The outlet's replier raises
`SlackDeliveryError` instead, so the outbox keeps the message and retries later.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.cadence import SLACK_STREAM_CHARS, STATUS_EDIT_S, EditThrottle
from bot.posting import PostingLocks
from bot.slack.clients import SLACK_ERRORS, SlackClients, describe
from bot.slack.records import Posted, SlackRecords
from bot.slack.render import SlackMessage, file_parts, render_reply, render_status
from bot.slack.streaming import SlackTextStream
from conversations.replies import FileAttachment, Progress, Reply, TextStream
from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

THINKING = "is thinking…"
WORKING = "is working on it…"


# `chat.postEphemeral` errors meaning the person cannot be shown a message here; their DM
# with the bot gets it instead.
NOT_VISIBLE_HERE = frozenset(
    {
        "user_not_in_channel",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
    }
)


class SlackDeliveryError(Exception):
    """A Slack call failed after the client's retries."""


@dataclass(frozen=True)
class ReplyPolicy:
    """Slack's share of the one edit rule (`bot.cadence`)."""

    progress_min_interval_s: float = STATUS_EDIT_S
    stream_buffer_chars: int = SLACK_STREAM_CHARS


@dataclass
class SlackShared:
    """What every replier of one front-end shares: the records every process shares, and
    this process's refresh throttle of status lines."""

    clients: SlackClients
    records: SlackRecords
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)
    edits: EditThrottle = field(default_factory=EditThrottle)
    posting: PostingLocks = field(default_factory=PostingLocks)

    def refresh_due(self, address: ConversationAddress, key: str, now: float) -> bool:
        """Whether the status line under `key` may be edited now (and note that it is)."""
        return self.edits.due((address.key, key), now, self.policy.progress_min_interval_s)


@dataclass
class _Status:
    update: Progress
    posted: Posted | None = None


_DB_ERRORS = (SQLAlchemyError, OSError)
DELIVERY_EVENT = "concierge_delivery"
"""The metadata event type of messages an outbox delivery posted."""
_delivery: ContextVar[str | None] = ContextVar("slack_delivery", default=None)
LOOK_BACK = 100
"""How many recent messages of the conversation a delivery tried before is looked for in."""


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
        async with self._lock, self._shared.posting.hold(self.address, reply.key):
            if reply.file is not None:
                await self._send_file(reply, reply.file)
                return
            if reply.private_to and not self._direct:
                await self._send_privately(reply, reply.private_to)
                return
            target = await self._target(reply.key)
            await self._settle_replaceable()
            first: Posted | None = None
            for index, message in enumerate(render_reply(reply, direct=self._direct)):
                posted = None
                if index == 0 and target is not None:
                    posted = await self._update(target, message, reply, index)
                if posted is None:
                    posted = await self._post(message, reply, index)
                if index == 0:
                    first = posted
            if reply.key and first is not None:
                await self._record(reply.key, first)

    async def send_once(self, reply: Reply, *, delivery: str, again: bool) -> None:
        """`send` for the outbox: what it posts carries `delivery`; when `again` (a try
        before may have posted it), a message with it already in the conversation is the
        delivery done."""
        if again and await self._delivered(delivery):
            log.info("outbox delivery %s was posted before; not posting it again", delivery)
            return
        token = _delivery.set(delivery)
        try:
            await self.send(reply)
        finally:
            _delivery.reset(token)

    async def _delivered(self, delivery: str) -> bool:
        thread = self.address.thread_id
        try:
            if thread:
                answer = await self._call(
                    "conversations.replies",
                    lambda c: c.conversations_replies(
                        channel=self.address.chat_id,
                        ts=thread,
                        include_all_metadata=True,
                        limit=LOOK_BACK,
                    ),
                )
            else:
                answer = await self._call(
                    "conversations.history",
                    lambda c: c.conversations_history(
                        channel=self.address.chat_id, include_all_metadata=True, limit=LOOK_BACK
                    ),
                )
        except SlackDeliveryError as error:
            log.info("could not look for delivery %s (%s); posting it", delivery, error)
            return False
        messages = answer.get("messages")
        return isinstance(messages, list) and any(
            _delivery_of(m) == delivery for m in messages if isinstance(m, dict)
        )

    async def progress(self, update: Progress) -> None:
        async with self._lock, self._shared.posting.hold(self.address, update.key):
            now = time.monotonic()
            status = self._statuses.get(update.key)
            if update.done:
                if status is not None:
                    del self._statuses[update.key]
                    status.update = update
                    if status.posted is not None:
                        self._replaceable.append(status)
                    return
                # A line posted by another replier or process: finish it where it is.
                found = await self._find(update.key, quiet=True)
                if found is not None:
                    await self._update_quietly(found, render_status(update))
                return
            if status is None:
                found = await self._find(update.key, quiet=True)
                status = _Status(update=update, posted=found)
                self._statuses[update.key] = status
                if found is None:
                    await self._settle_replaceable()
                    await self._set_thread_status(WORKING, [update.text])
                    self._shared.refresh_due(self.address, update.key, now)
                    status.posted = await self._post_quietly(render_status(update))
                    if status.posted is not None:
                        await self._record(update.key, status.posted)
                    return
            status.update = update
            if status.posted is not None and self._shared.refresh_due(
                self.address, update.key, now
            ):
                await self._update_quietly(status.posted, render_status(update))

    async def stream(self) -> TextStream | None:
        thread = self.address.thread_id
        if not thread:
            return None  # Slack streams only as a reply in a thread; a DM's top level posts once
        if not self._direct and not self._recipient:
            return None  # streaming into a channel needs the person it answers
        async with self._lock:
            await self._settle_replaceable()
        client = await self._client_or_none()
        if client is None:
            return None
        await self._join()
        return SlackTextStream(
            self,
            client,
            channel=self.address.chat_id,
            thread_ts=thread,
            team=self.address.workspace_id,
            user=self._recipient,
            buffer_chars=self._shared.policy.stream_buffer_chars,
        )

    @property
    def _direct(self) -> bool:
        """A DM with the bot: everything posted here is for the one person in it."""
        return self.address.chat_id.startswith("D")

    async def _send_privately(self, reply: Reply, user: str) -> None:
        """Each part of `reply` as an ephemeral message for `user`, or in their DM when Slack
        refuses it here. Nothing is replaced or recorded: ephemeral messages cannot be edited."""
        await self._finish_running(reply.key)
        dm: str | None = None
        reply = dataclasses.replace(reply, mention=None)  # for their eyes only: no mention
        for index, message in enumerate(render_reply(reply, direct=True)):
            try:
                if dm is None and reply.private_chat:  # to be answered in the DM: post it there
                    dm = await self._open_dm(user)
                if dm is None:
                    try:
                        await self._without_pictures_if_refused(
                            lambda m: self._post_ephemeral_raw(m, user),
                            message,
                            reply,
                            index,
                            direct=True,
                        )
                        continue
                    except SlackDeliveryError as error:
                        if _error_code(error) not in NOT_VISIBLE_HERE:
                            raise
                        log.info(
                            "ephemeral message refused in %s (%s); sending it to the DM",
                            self.address.chat_id,
                            error,
                        )
                    dm = await self._open_dm(user)
                await self._without_pictures_if_refused(
                    self._poster_to(dm), message, reply, index, direct=True
                )
            except SlackDeliveryError as error:
                self._failed(error)
                return

    async def _finish_running(self, key: str | None) -> None:
        """A reply that replaces nothing: its own status line under `key` shows it finished."""
        if key:
            running = self._statuses.pop(key, None)
            if running is not None and running.posted is not None:
                running.update = dataclasses.replace(running.update, done=True)
                self._replaceable.append(running)
        await self._settle_replaceable()

    async def _send_file(self, reply: Reply, file: FileAttachment) -> None:
        """`file` uploaded here with the text as its comment, or into the DM of the person a
        private reply is for; then the rest of the reply (cards, buttons) in the same place."""
        await self._finish_running(reply.key)
        private = reply.private_to if not self._direct else None
        comment, rest = file_parts(reply, direct=self._direct or private is not None)
        try:
            channel = await self._open_dm(private) if private else self.address.chat_id
            thread = None if private else self.address.thread_id or None
            await self._call(
                "files.upload",
                lambda c: c.files_upload_v2(
                    content=file.content,
                    filename=file.filename,
                    title=file.title or file.filename,
                    channel=channel,
                    thread_ts=thread,
                    initial_comment=comment,
                ),
            )
            if private is None:
                await self._join()
                if rest is not None:
                    for index, message in enumerate(render_reply(rest, direct=self._direct)):
                        await self._post(message, rest, index)
                return
            if rest is not None:
                for index, message in enumerate(render_reply(rest, direct=True)):
                    await self._without_pictures_if_refused(
                        self._poster_to(channel), message, rest, index, direct=True
                    )
        except SlackDeliveryError as error:
            self._failed(error)

    # ---- turn bracket ------------------------------------------------------------------

    async def begin(self) -> None:
        """Note that the bot takes part in this thread (stored here, after the ack rather
        than on its path), and show Slack's own "is thinking…" status while the turn starts."""
        await self._join()
        await self._set_thread_status(THINKING, None)

    async def finish(self) -> None:
        """Settle finished status lines nothing replaced and clear the thread status. A line
        still running belongs to work that outlives the turn (a job): whoever goes on with
        it, in any process, refreshes, finishes or replaces it under its key."""
        async with self._lock:
            self._statuses.clear()
            await self._settle_replaceable()
        if self._thread_status_set:
            await self._set_thread_status("", None)

    # ---- records -----------------------------------------------------------------------

    async def _target(self, key: str | None) -> Posted | None:
        """The message a reply replaces: the one posted under its key (here, by another
        replier or in another process), else a status line of this turn that finished."""
        own: Posted | None = None
        if key is not None:
            running = self._statuses.pop(key, None)  # replaced: no refresh may follow
            done = [s for s in self._replaceable if s.update.key == key]
            self._replaceable = [s for s in self._replaceable if s.update.key != key]
            own = next((s.posted for s in (running, *done) if s and s.posted), None)
            found = await self._find(key)
            if found is not None or own is not None:
                return found or own
        return self._replaceable.pop().posted if self._replaceable else None

    async def _find(self, key: str, *, quiet: bool = False) -> Posted | None:
        """The message recorded under `key`. If the database fails, the outlet's replier
        raises before anything is posted (the outbox tries again later); a status line
        (`quiet`) and a turn's replier go on as if nothing were recorded."""
        try:
            return await self._shared.records.find(self.address, key)
        except _DB_ERRORS as error:
            if self._raise and not quiet:
                raise SlackDeliveryError(f"reading {key}: {type(error).__name__}") from error
            log.warning("could not read the message of %s: %s", key, type(error).__name__)
            return None

    async def _record(self, key: str, posted: Posted) -> None:
        try:
            await self._shared.records.save(self.address, key, posted)
        except _DB_ERRORS as error:  # posted already: a later reply under `key` posts anew
            log.warning("could not record the message of %s: %s", key, type(error).__name__)

    async def _join(self) -> None:
        try:
            await self._shared.records.join(self.address)
        except _DB_ERRORS as error:
            log.warning("could not record thread membership: %s", type(error).__name__)

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
        except SLACK_ERRORS as error:
            raise SlackDeliveryError(f"{what}: {describe(error)}") from error

    def _failed(self, error: SlackDeliveryError) -> None:
        log.warning("Slack delivery to %s failed: %s", self.address.chat_id, error)
        if self._raise:
            raise error

    async def _post(self, message: SlackMessage, reply: Reply | None, index: int) -> Posted | None:
        try:
            return await self._without_pictures_if_refused(
                self._post_raw, message, reply, index, direct=self._direct
            )
        except SlackDeliveryError as error:
            self._failed(error)
            return None

    async def _without_pictures_if_refused(
        self,
        attempt: Callable[[SlackMessage], Awaitable[Posted]],
        message: SlackMessage,
        reply: Reply | None,
        index: int,
        *,
        direct: bool,
    ) -> Posted:
        """`attempt(message)`. A picture Slack could not fetch fails the whole message
        (`invalid_blocks`): the same part of `reply` is then tried once more without."""
        try:
            return await attempt(message)
        except SlackDeliveryError as error:
            if reply is None or not _invalid_blocks(error):
                raise
            plain = render_reply(reply, images=False, direct=direct)
            if index >= len(plain):
                raise
            return await attempt(plain[index])

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
        delivery = _delivery.get()
        if delivery is not None:
            args["metadata"] = {"event_type": DELIVERY_EVENT, "event_payload": {"key": delivery}}
        answer = await self._call("chat.postMessage", lambda c: c.chat_postMessage(**args))
        await self._join()
        return Posted(str(answer.get("channel") or self.address.chat_id), str(answer["ts"]))

    async def _post_ephemeral_raw(self, message: SlackMessage, user: str) -> Posted:
        args: dict[str, Any] = {
            "channel": self.address.chat_id,
            "user": user,
            "text": message.text,
            "blocks": list(message.blocks),
        }
        if self.address.thread_id:
            args["thread_ts"] = self.address.thread_id
        answer = await self._call("chat.postEphemeral", lambda c: c.chat_postEphemeral(**args))
        return Posted(self.address.chat_id, str(answer.get("message_ts") or ""))

    def _poster_to(self, channel: str) -> Callable[[SlackMessage], Awaitable[Posted]]:
        """Posting at the top of another conversation (a person's DM with the bot)."""

        async def post(message: SlackMessage) -> Posted:
            answer = await self._call(
                "chat.postMessage",
                lambda c: c.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=list(message.blocks),
                    unfurl_links=False,
                    unfurl_media=False,
                ),
            )
            return Posted(str(answer.get("channel") or channel), str(answer["ts"]))

        return post

    async def _open_dm(self, user: str) -> str:
        answer = await self._call("conversations.open", lambda c: c.conversations_open(users=user))
        channel = answer.get("channel")
        dm = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(dm, str) or not dm:
            raise SlackDeliveryError("conversations.open: no channel")
        return dm

    async def _update(
        self, target: Posted, message: SlackMessage, reply: Reply | None, index: int
    ) -> Posted | None:
        """Replace `target`; None when it cannot be updated (the caller posts instead)."""
        try:
            return await self._update_raw(target, message)
        except SlackDeliveryError as error:
            if reply is not None and _invalid_blocks(error):
                plain = render_reply(reply, images=False, direct=self._direct)
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


def _error_code(error: SlackDeliveryError) -> str | None:
    cause = error.__cause__
    if not isinstance(cause, SlackApiError):
        return None
    code = cause.response.get("error")
    return code if isinstance(code, str) else None


def _invalid_blocks(error: SlackDeliveryError) -> bool:
    return _error_code(error) == "invalid_blocks"


def _delivery_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != DELIVERY_EVENT:
        return None
    payload = metadata.get("event_payload")
    key = payload.get("key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None
