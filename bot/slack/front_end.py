"""`SlackFrontEnd`: the Slack adapter of `serve`.

HTTP mode: `POST /slack/events` (Events API, interactivity and slash commands on one Request
URL). The raw body is capped (413) and its signature checked (401; a body that is not UTF-8
cannot be verified, so it is a 401 too) before bolt sees it, then
its shape (`shapes.malformed`: a signed body Slack would never send is a plain-text 400
"malformed request", never a 500 that Slack retries); bolt then authorizes, our middleware
filters and claims, and a listener acks and spawns the work.
Socket Mode: when `SLACK_APP_TOKEN` is set, the same bolt app also takes requests over
slack_sdk's aiohttp Socket Mode client, connected in `start`.

Tokens: one workspace from `SLACK_BOT_TOKEN`, or any number installed through OAuth
(`SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET`, see `multi_workspace`); the `TokenLookup` seam picks the
token of the request's (or the reply's) workspace either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from cachetools import LRUCache
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from bot.settings import Settings, secret
from bot.slack import multi_workspace
from bot.slack.addressing import PLATFORM, Accepted, team_of
from bot.slack.admin import Basics, WorkspaceSettings
from bot.slack.app import build_app
from bot.slack.clients import (
    Authorize,
    SingleWorkspaceTokens,
    SlackClients,
    TokenLookup,
)
from bot.slack.middleware import InboundRules, check_signature
from bot.slack.oauth import INSTALL_PATH
from bot.slack.people import SlackPeople
from bot.slack.records import SlackRecords
from bot.slack.render import escape, render_reply
from bot.slack.replier import ReplyPolicy, SlackReplier, SlackShared
from bot.slack.shapes import malformed
from bot.slack.surfaces import (
    COMMAND,
    ORDERS_TEXT,
    SUGGESTED_PROMPTS,
    help_text,
    home_view,
    orders_text,
)
from conversations.capabilities.jobs_tools import open_jobs_of
from conversations.delivery import Outlet
from conversations.manager import ConversationManager
from conversations.replies import Replier
from conversations.types import ButtonPress, ConversationAddress, InboundMessage, Sender
from conversations.welcome import is_greeting, welcome
from integrations.retry import Retrier, RetryPolicy

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1 << 20  # Slack's payloads are a few KiB; anything near a MiB is not Slack
DM_OPEN_TIMEOUT_S = 1.5
SETTINGS_TIMEOUT_S = 2.5
MAX_COMMAND_TEXT = 2000
REMEMBERED = 10_000
KEEPALIVE_S = 4.0
SOCKET_RETRY = RetryPolicy(base_delay=1.0, max_delay=60.0)


class SlackFrontEnd:
    platform = PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        tokens: TokenLookup | None = None,
        policy: ReplyPolicy | None = None,
    ) -> None:
        bot_token = secret(settings.slack_bot_token)
        self._multi = (
            multi_workspace.MultiWorkspace(settings) if multi_workspace.enabled(settings) else None
        )
        if tokens is None and self._multi is None:
            if not bot_token:
                raise ValueError(
                    "Slack needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
                )
            tokens = SingleWorkspaceTokens(bot_token)
        self._settings = settings
        self._tokens = tokens
        self._people: SlackPeople | None = None
        self._admin: WorkspaceSettings | None = None
        self._secrets = [s for s in (secret(settings.slack_signing_secret),) if s]
        self._app_token = secret(settings.slack_app_token)
        self._policy = policy or ReplyPolicy()
        self._services: Services | None = None
        self._shared: SlackShared | None = None
        self._bolt: AsyncApp | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._socket_task: asyncio.Task[None] | None = None
        self._accepting = False
        self._reconnect = Retrier(SOCKET_RETRY)
        self._dms: LRUCache[tuple[str, str], str] = LRUCache(maxsize=REMEMBERED)
        self._prompted: LRUCache[str, None] = LRUCache(maxsize=REMEMBERED)

    # ---- FrontEnd ----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route(EVENTS_PATH, self._events, methods=["POST"])]
        if self._multi is not None:
            routes += self._multi.routes()
        return routes

    async def start(self, services: Services) -> None:
        self._services = services
        # Idle connections are dropped before common 5 s server keep-alives close them under
        # a request (a status refresh comes every few seconds, exactly on that edge).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=KEEPALIVE_S)
        )
        tokens = self._tokens
        if tokens is None:
            assert self._multi is not None
            tokens = self._multi.tokens(services, self._session)
        clients = SlackClients(
            base_url=self._settings.slack_api_url, tokens=tokens, session=self._session
        )
        self._shared = SlackShared(clients, SlackRecords(services.db), policy=self._policy)
        self._people = SlackPeople(clients)
        services.people.use_profiles(PLATFORM, self._profile_of)
        services.deps.admins.use(PLATFORM, self._is_admin)  # events, agency approvals, exports
        services.deps.members.use(PLATFORM, self._members_of)  # events, plans
        self._admin = WorkspaceSettings(
            workspaces=services.workspaces,
            people=self._people,
            open_dm=self._open_dm_in,
        )
        flow = None
        if self._multi is not None and self._tokens is None:
            flow = self._multi.start(services, clients, lambda: self._accepting)
        self._bolt = build_app(
            signing_secret=self._secrets[0] if self._secrets else "",
            client=clients.client(),
            authorize=Authorize(clients),
            rules=InboundRules(
                manager=self._manager,
                in_thread=self._shared.records.takes_part,
                joined=self._shared.records.noticed,
            ),
            handlers=self,
            oauth_flow=flow,
        )
        self._accepting = True
        if self._app_token:
            self._socket = AsyncSocketModeHandler(
                self._bolt, app_token=self._app_token, web_client=clients.client()
            )
            self._socket_task = asyncio.create_task(self._connect_socket(), name="slack-socket")
        log.info(
            "Slack front-end ready (%s%s)",
            "Socket Mode and HTTP" if self._app_token else f"HTTP at {EVENTS_PATH}",
            f", installs at {INSTALL_PATH}" if flow else "",
        )

    async def stop(self) -> None:
        self._accepting = False
        if self._socket_task is not None:
            self._socket_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._socket_task
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close_async(), timeout=5)  # type: ignore[no-untyped-call]
        if self._services is not None and self._session is not None:
            # Running turns still post their answers; the session closes once they are done.
            self._services.work.spawn(self._close_when_idle(self._services), name="slack-close")

    def outlet(self) -> Outlet:
        return SlackOutlet(self)

    @property
    def bolt(self) -> AsyncApp | None:
        """The slack-bolt app, once started."""
        return self._bolt

    # ---- HTTP --------------------------------------------------------------------------

    async def _events(self, request: Request) -> Response:
        try:
            body = await _capped_body(request, MAX_BODY)
        except ClientDisconnect:
            return Response(status_code=400)
        if body is None:
            return Response(status_code=413)
        refused = check_signature(request.headers, body, self._secrets)
        if refused is not None:
            log.info("Slack request refused: %s", refused)
            return Response(status_code=401)
        if self._bolt is None or not self._accepting:
            return Response(status_code=503)
        text = body.decode("utf-8")  # `check_signature` refused any body that is not UTF-8
        problem = malformed(text, request.headers.get("content-type"))
        if problem is not None:
            return _malformed(problem)
        try:
            bolt_request = AsyncBoltRequest(
                body=text,
                query=dict(request.query_params),
                headers={k: v for k, v in request.headers.items()},
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
            # A shape `shapes.malformed` does not know yet: still Slack's retry-free 400.
            log.warning("Slack request bolt could not read: %s", type(e).__name__)
            return _malformed("unreadable by bolt")
        return to_starlette_response(await self._bolt.async_dispatch(bolt_request))

    # ---- handlers (called by the bolt listeners) ---------------------------------------

    def dispatch(self, verdict: Accepted, recipient: str | None) -> None:
        """Run an accepted item as tracked work, with a replier bound to its address."""
        services, shared = self._running()
        item = verdict.item
        replier = SlackReplier(
            shared, item.address, recipient=recipient, status_thread=verdict.status_thread
        )

        async def work() -> None:
            try:
                await replier.begin()
                await services.manager.run(item, replier)
            finally:
                await replier.finish()

        services.work.spawn(work(), name=f"slack:{item.event_id}")

    async def command(self, ack: AsyncAck, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """`/concierge help|orders|settings|status|forget me|plan …|<anything>`; free text is a
        message in our DM, a plan a message in the channel. Help, settings, status and forget
        me are answered privately, right where they were typed."""
        services, _ = self._running()
        text = str(body.get("text") or "").strip()[:MAX_COMMAND_TEXT]
        word = text.lower()
        team, user = team_of(body), str(body.get("user_id") or "")
        if not word or is_greeting(word):
            here = ConversationAddress(PLATFORM, team, str(body.get("channel_id") or ""), "")
            shown = render_reply(await welcome(services.deps, here, offline=services.offline))
            blocks = [block for message in shown for block in message.blocks]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": help_text()}})
            await ack(text=help_text(), blocks=blocks, response_type="ephemeral")
            return
        if word.split()[0] == "settings":
            here = ConversationAddress(PLATFORM, team, str(body.get("channel_id") or ""), "")
            answer = await self._settings_for(here, user, text[len("settings") :])
            await ack(text=answer, response_type="ephemeral")
            return
        if word == "status":
            here = ConversationAddress(PLATFORM, team, str(body.get("channel_id") or ""), "")
            jobs = await open_jobs_of(services.deps, here, user)
            answer = (
                "\n".join(["*Working on it for you*", *(f"• {escape(j)}" for j in jobs)])
                if jobs
                else "Nothing is running for you right now."
            )
            await ack(text=answer, response_type="ephemeral")
            return
        if " ".join(word.split()).strip(" .!") == "forget me":
            here = ConversationAddress(PLATFORM, team, str(body.get("channel_id") or ""), "")
            said = await services.people.forget(here, Sender(user))
            await ack(text=said, response_type="ephemeral")
            return
        if word.split()[0] == "plan":
            # A group plan starts in the channel it was typed in, where everyone can vote
            # (in a DM the plan itself says it needs a channel).
            channel = str(body.get("channel_id") or "")
            here = ConversationAddress(PLATFORM, team, channel, "")
            said = "On it — the options and the vote will be posted here."
            await self._take(ack, body, here, text, said, private=channel.startswith("D"))
            return
        dm = await self._open_dm(client, team, user)
        if dm is None:
            await ack(
                text="I couldn't open a DM with you just now. Message me directly instead.",
                response_type="ephemeral",
            )
            return
        app_id = str(body.get("api_app_id") or "")
        where = f"<slack://app?team={team}&id={app_id}&tab=messages|our DM>" if app_id else "our DM"
        here = ConversationAddress(PLATFORM, team, dm, "")
        text = ORDERS_TEXT if word == "orders" else text
        await self._take(ack, body, here, text, f"On it — I'll answer in {where}.", private=True)

    async def _take(
        self,
        ack: AsyncAck,
        body: Mapping[str, Any],
        here: ConversationAddress,
        text: str,
        said: str,
        *,
        private: bool,
    ) -> None:
        """A command's words as a message to the bot `here`: claimed, acknowledged with
        `said` (only to the person who typed it), then worked on."""
        services, _ = self._running()
        user = str(body.get("user_id") or "")
        message = InboundMessage(
            here,
            Sender(user, str(body.get("user_name") or "") or None),
            text,
            event_id=f"{team_of(body)}:command:{body.get('trigger_id') or ''}",
            private=private,
        )
        if not await services.manager.accept(message):
            await ack()
            return
        await ack(text=said, response_type="ephemeral")
        self.dispatch(Accepted(message, None), user)

    async def home_opened(self, body: Mapping[str, Any]) -> None:
        event = body.get("event")
        if not isinstance(event, Mapping):
            return
        services, _ = self._running()
        team, user = team_of(body), str(event.get("user") or "")
        channel = str(event.get("channel") or "")
        if event.get("tab") == "home" and user:
            services.work.spawn(self._publish_home(team, user, channel), name="slack:home")
            welcome = self._multi.home_opened(team, user, channel) if self._multi else None
            if welcome is not None:
                services.work.spawn(welcome, name="slack:welcome")
        elif event.get("tab") == "messages" and channel and _first(self._prompted, channel):
            services.work.spawn(self._suggest_prompts(team, channel), name="slack:prompts")

    async def home_pressed(self, body: Mapping[str, Any]) -> None:
        """A suggestion pressed in the App Home, which has no conversation: it runs in the
        person's DM with the bot, through the same button routing as any other press."""
        services, _ = self._running()
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else None
        user = body.get("user")
        user_id = str(user.get("id") or "") if isinstance(user, Mapping) else ""
        if not isinstance(action, Mapping) or not user_id or not action.get("value"):
            return
        team = team_of(body)
        dm = await self._open_dm_in(team, user_id)
        if dm is None:
            return
        assert isinstance(user, Mapping)
        press = ButtonPress(
            ConversationAddress(PLATFORM, team, dm, ""),
            Sender(user_id, str(user.get("name") or "") or None),
            str(action["value"]),
            event_id=f"{team}:home:{user_id}:{action.get('action_ts') or ''}",
        )
        if await services.manager.accept(press):
            self.dispatch(Accepted(press, None), user_id)

    async def revoked(self, team_id: str, event: Mapping[str, Any]) -> None:
        """`app_uninstalled`, or `tokens_revoked` naming the bot's token: forget the
        installation, the workspace's partner keys and its bind tokens (in any order, any
        number of times)."""
        services, _ = self._running()
        if event.get("type") == "tokens_revoked":
            tokens = event.get("tokens")
            bots = tokens.get("bot") if isinstance(tokens, Mapping) else None
            if not bots:
                return  # only user tokens, and the concierge keeps none
        if not team_id:
            return
        await services.workspaces.revoke(platform=PLATFORM, workspace_external_id=team_id)
        if self._multi is not None:
            self._multi.forget(team_id)

    # ---- helpers -----------------------------------------------------------------------

    async def _settings_for(self, here: ConversationAddress, user: str, rest: str) -> str:
        services, _ = self._running()
        assert self._admin is not None
        basics = Basics(
            outgoing=await services.deps.outgoing.configured(here),
            payment_mode=self._settings.payment_mode.value,
            offline=services.offline,
            default_key=self._settings.outgoing_enabled,
            default_cap_cents=services.deps.booking.default_spend_cap_cents,
        )
        try:
            async with asyncio.timeout(SETTINGS_TIMEOUT_S):
                return await self._admin.answer(
                    team=here.workspace_id, user=user, rest=rest, basics=basics
                )
        except TimeoutError:
            return f"That took me too long. Run `{COMMAND} settings` again to see where it stands."

    async def _profile_of(self, address: ConversationAddress, sender: Sender) -> Mapping[str, str]:
        """People's profile for partners: their Slack name, and their e-mail and phone only
        where the workspace granted `users:read.email` (`People.use_profiles`)."""
        if self._people is None or address.platform != PLATFORM:
            return {}
        profile = await self._people.profile(address.workspace_id, sender.user_id)
        return profile.known() if profile is not None else {}

    async def _members_of(self, address: ConversationAddress) -> list[str] | None:
        """Who is in the channel (`conversations.members`): "add everyone here", a vote
        everyone has answered."""
        if self._people is None or address.platform != PLATFORM:
            return None
        return await self._people.members(address.workspace_id, address.chat_id)

    async def _is_admin(self, address: ConversationAddress, user_id: str) -> bool:
        """Whether Slack says the user is a workspace admin or owner (asked now)."""
        if self._people is None or address.platform != PLATFORM:
            return False
        return (await self._people.fetch(address.workspace_id, user_id)).is_admin

    def _manager(self) -> ConversationManager:
        services, _ = self._running()
        return services.manager

    def _running(self) -> tuple[Services, SlackShared]:
        if self._services is None or self._shared is None:
            raise RuntimeError("the Slack front-end is not started")
        return self._services, self._shared

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        if address.platform != PLATFORM or self._shared is None:
            return None
        return SlackReplier(
            self._shared, address, status_thread=address.thread_id or None, raise_errors=True
        )

    async def _open_dm_in(self, team: str, user: str) -> str | None:
        """The person's DM with the bot in `team` (opened if needed), or None."""
        _, shared = self._running()
        known = self._dms.get((team, user))
        if known:
            return known
        client = await shared.clients.client_for(team)
        return await self._open_dm(client, team, user) if client is not None else None

    async def _open_dm(self, client: AsyncWebClient, team: str, user: str) -> str | None:
        known = self._dms.get((team, user))
        if known:
            return known
        try:
            async with asyncio.timeout(DM_OPEN_TIMEOUT_S):
                answer = await client.conversations_open(users=user)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            log.warning("conversations.open failed: %s", type(error).__name__)
            return None
        channel = answer.get("channel")
        dm = str(channel.get("id") or "") if isinstance(channel, Mapping) else ""
        if dm:
            self._dms[(team, user)] = dm
        return dm or None

    async def _publish_home(self, team: str, user: str, channel: str) -> None:
        services, shared = self._running()
        address = ConversationAddress(PLATFORM, team, channel, "")
        orders = await orders_text(services.deps, address, Sender(user))
        jobs = await open_jobs_of(services.deps, address, user)
        hello = await welcome(services.deps, address, offline=services.offline)
        client = await shared.clients.client_for(team)
        if client is None:
            return
        try:
            await client.views_publish(user_id=user, view=home_view(orders, jobs, welcome=hello))
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            log.warning("views.publish failed: %s", type(error).__name__)

    async def _suggest_prompts(self, team: str, channel: str) -> None:
        _, shared = self._running()
        client = await shared.clients.client_for(team)
        if client is None:
            return
        try:
            # The agent view: prompts for the DM itself, so no thread_ts.
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=channel, title="Try asking", prompts=list(SUGGESTED_PROMPTS)
            )
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            log.info("suggested prompts not set: %s", type(error).__name__)

    async def _connect_socket(self) -> None:
        socket = self._socket
        assert socket is not None
        # Keep trying, whatever fails: Slack may be unreachable at boot.
        await self._reconnect.keep_trying(
            socket.connect_async,
            retryable=lambda error: isinstance(error, Exception),
            label="Slack Socket Mode connection",
        )
        log.info("Slack Socket Mode connected")

    async def _close_when_idle(self, services: Services) -> None:
        try:
            # The tracker offers no "idle" event, and drain() would wait on this task itself.
            while services.work.running > 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None


class SlackOutlet:
    """Later results (booking webhooks, resumed work) reach any Slack conversation."""

    def __init__(self, front_end: SlackFrontEnd) -> None:
        self._front_end = front_end

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self._front_end.replier_for(address)


def _first(seen: LRUCache[str, None], key: str) -> bool:
    """True the first time `key` is seen (bounded memory)."""
    if key in seen:
        return False
    seen[key] = None
    return True


def _malformed(problem: str) -> Response:
    """A signed request whose body is not one Slack sends: 400, never a 5xx (which Slack
    would retry), and nothing reaches bolt, the core or the database."""
    log.info("Slack request refused: %s", problem)
    return PlainTextResponse("malformed request", status_code=400)


async def _capped_body(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)
