"""Cross-cutting rules, written once: request signatures, ignoring, dedupe.

`check_signature` runs before bolt on the raw bytes, the one place a Slack signature is
checked (bolt's own check is off). It wraps slack_sdk's `SignatureVerifier`, which raises on
a timestamp like `abc`, a signature like `v0=éé` or a body that is not UTF-8 (so bolt would
answer 500 and Slack would retry): the shapes are checked first, so any malformed, stale
(±300 s) or wrong signature, and any body it cannot verify, is a plain 401.

`InboundMiddleware` runs inside bolt after its authorization: it turns a message event or a
click on our buttons into the core's item, answers 200 at once for what we ignore (own
messages, bots, edits, channel chatter, threads the bot takes no part in: one small read)
and for duplicates, and claims the item's event id in the database
(`ConversationManager.accept`) *before* the listener acknowledges it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import Clock, SignatureVerifier

from bot.slack.addressing import (
    Accepted,
    Followup,
    Ignored,
    Verdict,
    from_block_action,
    from_event,
    settle_followup,
)
from conversations.manager import ConversationManager
from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
ACCEPTED = "concierge_accepted"


def check_signature(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    now: float | None = None,
) -> str | None:
    """None when the request is Slack's (signed with any of the active `secrets`); otherwise
    why not (for the log, never the caller)."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not _TIMESTAMP.match(timestamp):
        return "malformed timestamp"
    if not _SIGNATURE.match(signature):
        return "malformed signature"
    clock = _At(time.time() if now is None else now)
    if abs(clock.now() - int(timestamp)) > MAX_SKEW_S:
        return "stale timestamp"
    try:
        text = body.decode("utf-8")  # what the verifier does, raising; Slack sends UTF-8
    except UnicodeDecodeError:
        return "body is not UTF-8"
    verifiers = [SignatureVerifier(secret, clock) for secret in secrets if secret.strip()]
    # Every secret is tried (no early exit), each compared in constant time.
    valid = [verifier.is_valid(text, timestamp, signature) for verifier in verifiers]
    return None if any(valid) else "wrong signature"


class _At(Clock):
    """One instant for the skew check and every verifier of a request."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


@dataclass(frozen=True)
class InboundRules:
    manager: Callable[[], ConversationManager]
    in_thread: Callable[[ConversationAddress], Awaitable[bool]]
    """Whether the bot takes part in a thread (a read; shared by every process)."""
    joined: Callable[[ConversationAddress], None]
    """The bot was addressed in a thread: known in this process at once (no write here)."""


class InboundMiddleware(AsyncMiddleware):
    def __init__(self, rules: InboundRules) -> None:
        self._rules = rules

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        verdict = await self._verdict(req)
        if verdict is None:
            return await next()
        if isinstance(verdict, Ignored):
            log.debug("ignored Slack request: %s", verdict.reason)
            return BoltResponse(status=200, body="")
        if not await self._rules.manager().accept(verdict.item):
            log.info("duplicate Slack delivery %s", verdict.item.event_id)
            return BoltResponse(status=200, body="")
        if verdict.item.address.thread_id and not verdict.item.address.chat_id.startswith("D"):
            self._rules.joined(verdict.item.address)
        req.context[ACCEPTED] = verdict
        return await next()

    async def _verdict(self, req: AsyncBoltRequest) -> Verdict | None:
        """What this request is for the core; None when it is not a message or a click."""
        body = req.body
        kind = body.get("type")
        if kind == "event_callback":
            event = body.get("event")
            if isinstance(event, Mapping) and event.get("type") in {"message", "app_mention"}:
                verdict = from_event(body, bot_user_id=req.context.bot_user_id or "")
                if isinstance(verdict, Followup):
                    address = verdict.accepted.item.address
                    part = await self._rules.in_thread(address)
                    return settle_followup(verdict, takes_part=part)
                return verdict
            return None
        if kind == "block_actions":
            return from_block_action(body)
        return None


def accepted(context: Mapping[str, object]) -> Accepted | None:
    verdict = context.get(ACCEPTED)
    return verdict if isinstance(verdict, Accepted) else None
