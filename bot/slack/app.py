"""The slack-bolt `AsyncApp`: built-in verification and authorization, our inbound middleware,
and listeners that acknowledge at once and hand the work to the services' work tracker.

The app runs with `process_before_response=True`: every listener here returns within
milliseconds (the claim is already committed by the middleware; the work is spawned as
tracked work, not bolt's untracked `ensure_future`), so the ack carries the listener's answer.
Requests nobody handles are acknowledged with 200 by the error handler, so Slack never sees a
404 and never retries them (and never disables the subscription for too many failures).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, cast

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.addressing import Accepted
from bot.slack.middleware import InboundMiddleware, InboundRules, accepted
from bot.slack.render import ACTION_PREFIX
from bot.slack.surfaces import COMMAND, HOME_ACTION

log = logging.getLogger(__name__)

# Everything the code subscribes to and every scope it calls with; manifest.yml lists exactly
# these (a test compares them).
BOT_EVENTS = (
    "app_home_opened",  # App Home tab (views.publish) and the agent view's suggested prompts
    "app_mention",  # mentions in channels and group DMs
    "app_uninstalled",  # forget the installation and the keys bound to the workspace
    "message.channels",  # follow-ups in public-channel threads the bot is part of
    "message.groups",  # … in private channels
    "message.im",  # DMs
    "message.mpim",  # … in group DMs
    "tokens_revoked",  # the bot token was revoked: the same as an uninstall
)
BOT_SCOPES = (
    "app_mentions:read",  # app_mention
    "assistant:write",  # assistant.threads.setStatus / setSuggestedPrompts (agent view)
    "channels:history",  # message.channels
    "channels:read",  # conversations.members: "add everyone here" to an event
    "chat:write",  # chat.postMessage / update / startStream / appendStream / stopStream
    "commands",  # /concierge
    "files:write",  # files.getUploadURLExternal / completeUploadExternal: file replies (exports)
    "groups:history",  # message.groups
    "groups:read",  # conversations.members in private channels
    "im:history",  # message.im
    "im:write",  # conversations.open: /concierge answers in the person's DM
    "mpim:history",  # message.mpim
    "users:read",  # users.info: people's profile names, and who is a workspace admin
)
# Asked for only when CONCIERGE_SLACK_CONTACT_DETAILS is on: people's e-mail (and phone)
# then reach partners when they are provisioned.
CONTACT_SCOPE = "users:read.email"


class Handlers(Protocol):
    """What the listeners call on the front-end."""

    def dispatch(self, verdict: Accepted, recipient: str | None) -> None: ...

    async def command(
        self, ack: AsyncAck, body: Mapping[str, Any], client: AsyncWebClient
    ) -> None: ...

    async def home_opened(self, body: Mapping[str, Any]) -> None: ...

    async def home_pressed(self, body: Mapping[str, Any]) -> None: ...

    async def revoked(self, team_id: str, event: Mapping[str, Any]) -> None: ...


class _HomeClicks(AsyncMiddleware):
    """A press in the App Home belongs to no conversation, so it is taken before the
    inbound rules (which want a message) and run in the presser's DM."""

    def __init__(self, handlers: Handlers) -> None:
        self._handlers = handlers

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if not _home_click(req.body):
            return await next()
        await self._handlers.home_pressed(req.body)
        return BoltResponse(status=200, body="")


class _DropTokenNotice(logging.Filter):
    """bolt warns that an env `SLACK_BOT_TOKEN` is unused when tokens come from `authorize`;
    that is by design here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_app(
    *,
    signing_secret: str,
    client: AsyncWebClient,
    authorize: AsyncAuthorize,
    rules: InboundRules,
    handlers: Handlers,
    oauth_flow: AsyncOAuthFlow | None = None,
) -> AsyncApp:
    """The bolt app. `oauth_flow` is always given explicitly when OAuth is on, so bolt never
    builds its own from `SLACK_CLIENT_ID` in the environment (with file stores)."""
    bolt_log = logging.getLogger("bot.slack.bolt")
    if not any(isinstance(f, _DropTokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(_DropTokenNotice())
    app = AsyncApp(
        name="concierge",
        logger=bolt_log,
        signing_secret=signing_secret,
        client=client,
        # bolt's annotation wants a plain callable, its code also takes an AsyncAuthorize
        # (which an OAuth flow requires).
        authorize=cast(Callable[..., Awaitable[AuthorizeResult]], authorize),
        oauth_flow=oauth_flow,
        process_before_response=True,
        raise_error_for_unhandled_request=True,
        request_verification_enabled=False,  # `middleware.check_signature` did, on the raw bytes
        attaching_conversation_kwargs_enabled=False,
    )

    app.use(_HomeClicks(handlers))
    app.use(InboundMiddleware(rules))

    async def inbound(ack: AsyncAck, context: AsyncBoltContext) -> None:
        verdict = accepted(context)
        await ack()
        if verdict is not None:
            handlers.dispatch(verdict, verdict.item.sender.user_id)

    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await handlers.command(ack, body, client)

    async def home_opened(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.home_opened(body)

    async def revoked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event")
        await handlers.revoked(
            str(body.get("team_id") or ""), event if isinstance(event, dict) else {}
        )

    async def unhandled(error: Exception) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            return BoltResponse(status=200, body="")
        log.error("Slack listener failed: %s", type(error).__name__, exc_info=error)
        return None

    app.event("message")(inbound)
    app.event("app_mention")(inbound)
    app.action(re.compile(rf"^{ACTION_PREFIX}\d+$"))(inbound)
    app.command(COMMAND)(command)
    app.event("app_home_opened")(home_opened)
    app.event("app_uninstalled")(revoked)
    app.event("tokens_revoked")(revoked)
    app.error(unhandled)
    return app


def _home_click(body: Mapping[str, Any]) -> bool:
    """A click on one of the App Home's buttons (`home-<n>` in a view of type "home")."""
    if body.get("type") != "block_actions":
        return False
    view, actions = body.get("view"), body.get("actions")
    if not isinstance(view, Mapping) or view.get("type") != "home":
        return False
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return False
    return str(actions[0].get("action_id") or "").startswith(HOME_ACTION)
