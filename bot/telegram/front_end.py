"""`TelegramFrontEnd`: python-telegram-bot behind `POST /telegram/webhook` or long polling.

Webhook mode when `CONCIERGE_PUBLIC_URL` is https: `setWebhook` at start with the secret
(`TELEGRAM_WEBHOOK_SECRET`, or one derived from `CONCIERGE_SECRET_KEY` when unset) and the
update types we handle. Otherwise long polling (`deleteWebhook`, then `getUpdates`) for
local use, with no public URL needed. Commands are registered with `setMyCommands`.

Every update, from either door, goes through `feed`: PTB's handlers classify it and claim
it in the database (`ConversationManager.accept`); the webhook answers 200 only after that,
and the work (`manager.run`, with "typing…" showing) runs afterwards as tracked work.

What the webhook answers, in order: a missing or malformed secret 401, a wrong one 403
(`transport.check_secret`, before the body is read); a body over 1 MiB 413; not yet
connected 503; a body that is not JSON, not an object, not of an update's shape
(`transport.malformed_update`) or refused by PTB's `Update.de_json` a plain-text 400
"malformed update", which reaches no handler and changes nothing; an update that could not
be claimed 500; otherwise 200. Telegram redelivers after any non-2xx, but only "a reasonable
amount of attempts" (setWebhook docs), never forever, so a 400 is chosen over a 200 for
bodies Telegram itself never sends: nothing is lost, and the refusal shows in
`getWebhookInfo`'s `last_error_message` instead of being silently dropped. The 500 stays
for updates that are well formed but could not be claimed (the database was unavailable):
that redelivery is wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import BotCommand, CallbackQuery, Message, ReplyKeyboardMarkup, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes

from bot.services import Services
from bot.settings import Settings, secret
from bot.telegram.addressing import COMMANDS, PLATFORM
from bot.telegram.application import SEND_RETRY, build_application
from bot.telegram.callbacks import DatabaseCallbackStore
from bot.telegram.handlers import TelegramHandlers
from bot.telegram.memory import CallbackEntry, CallbackStore, RecentIds
from bot.telegram.press import PressAnswer
from bot.telegram.records import PollRecord, Posted, TelegramRecords, quietly
from bot.telegram.render import escape
from bot.telegram.replier import TelegramReplier
from bot.telegram.shared import ReplyPolicy, TelegramShared
from bot.telegram.transport import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    check_secret,
    derived_secret,
    malformed_update,
    poll,
    retry_later,
    valid_secret,
)
from conversations.capabilities.jobs_tools import open_jobs_of
from conversations.delivery import Outlet
from conversations.replies import Replier
from conversations.types import ConversationAddress, Inbound
from integrations import retry as retrying

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
MAX_BODY = 1 << 20  # updates are a few KiB

PAYMENTS = {
    "dry_run_success": "test mode: bookings are simulated and nothing is charged",
    "dry_run_failure": "test mode: bookings are simulated and always fail",
    "live_purchase": "live: confirmed bookings are charged",
}


@dataclass(frozen=True)
class TelegramOptions:
    poll_timeout_s: int = 25
    retry: retrying.RetryPolicy = SEND_RETRY
    reply: ReplyPolicy = field(default_factory=ReplyPolicy)
    reconnect: retrying.RetryPolicy = field(
        default_factory=lambda: retrying.RetryPolicy(base_delay=1.0, max_delay=30.0)
    )
    """The waits between attempts to reach Telegram at boot, to set the webhook and to poll:
    the one retry layer's backoff, with no attempt cap."""


@dataclass
class _Outcome:
    error: BaseException | None = None


_feeding: ContextVar[_Outcome | None] = ContextVar("telegram_feeding", default=None)


class TelegramFrontEnd:
    platform = PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        options: TelegramOptions | None = None,
        callbacks: CallbackStore | None = None,
    ) -> None:
        token = secret(settings.telegram_bot_token)
        if not token:
            raise ValueError("Telegram needs TELEGRAM_BOT_TOKEN")
        self._token = token
        self._settings = settings
        self._options = options or TelegramOptions()
        self._callbacks: CallbackStore | None = callbacks
        self.webhook_mode = settings.public_url.startswith("https://")
        configured = secret(settings.telegram_webhook_secret)
        if configured is not None and not valid_secret(configured):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        key = secret(settings.secret_key)
        if configured is None and self.webhook_mode and key:
            configured = derived_secret(key, token)
        self._secret = configured
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._built: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._services: Services | None = None
        self._shared: TelegramShared | None = None
        self._answered = RecentIds()
        self._retrier = retrying.Retrier(self._options.reconnect)
        self._accepting = False
        self._tasks: list[asyncio.Task[None]] = []

    # ---- FrontEnd ----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def start(self, services: Services) -> None:
        self._services = services
        self._callbacks = self._callbacks or DatabaseCallbackStore(services.db)
        app = build_application(
            self._token, api_url=self._settings.telegram_api_url, retry=self._options.retry
        )
        TelegramHandlers(self).register(app)
        app.add_error_handler(self._on_error)
        self._built = app
        services.deps.admins.use(PLATFORM, self._is_admin)  # a group's admins: events, agency
        try:
            await self._connect(app)
        except InvalidToken:
            raise  # a configuration error: say so at once
        except TelegramError as error:
            # Telegram unreachable: the rest of `serve` starts; updates wait (webhook 503s
            # are retried by Telegram) until we are connected.
            log.warning("Telegram unreachable at start (%s); retrying in the background", error)
            self._tasks.append(asyncio.create_task(self._connect_later(app)))

    async def _is_admin(self, address: ConversationAddress, user_id: str) -> bool:
        """Whether Telegram says the user administers the chat (asked now)."""
        if self._app is None or address.platform != PLATFORM:
            return False
        member = await self._app.bot.get_chat_member(int(address.chat_id), int(user_id))
        return member.status in ("administrator", "creator")

    async def _connect(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await app.initialize()  # getMe: the bot's id and @username
        await app.start()
        self._app = app
        assert self._callbacks is not None and self._services is not None  # set by start()
        records = TelegramRecords(self._services.db)
        self._shared = TelegramShared(app.bot, self._callbacks, records, policy=self._options.reply)
        self._accepting = True
        await self._register_commands()
        if self.webhook_mode:
            try:
                await self._set_webhook()
            except TelegramError as error:
                log.error("Telegram setWebhook failed: %s", error)
                self._tasks.append(asyncio.create_task(self._keep_setting_webhook()))
        else:
            with contextlib.suppress(TelegramError):
                await app.bot.delete_webhook()  # getUpdates is refused while one is set
            self._tasks.append(
                asyncio.create_task(
                    poll(
                        app.bot,
                        self.feed,
                        timeout_s=self._options.poll_timeout_s,
                        retrier=self._retrier,
                    ),
                    name="telegram-polling",
                )
            )
        log.info(
            "Telegram front-end ready as @%s (%s)",
            app.bot.username,
            f"webhook at {WEBHOOK_PATH}" if self.webhook_mode else "long polling",
        )

    async def _connect_later(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        try:
            await self._retrier.keep_trying(
                lambda: self._connect(app),
                retryable=retry_later,
                label="connecting to Telegram",
                failed=1,  # the attempt in `start`
            )
        except InvalidToken:
            log.error("Telegram refused the bot token; the Telegram front-end stays off")

    async def stop(self) -> None:
        self._accepting = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._app is not None and self._services is not None:
            # Running turns still post their answers; the bot's connections close after them.
            self._services.work.spawn(self._close_when_idle(self._services), name="telegram-close")
        elif self._built is not None:
            await self._built.bot.shutdown()  # never connected: only its HTTP clients to close

    def outlet(self) -> Outlet:
        return TelegramOutlet(self)

    # ---- updates -----------------------------------------------------------------------

    async def feed(self, update: Update) -> bool:
        """Run PTB's handlers on `update`; False if it could not be claimed (retry it)."""
        app = self._app
        if app is None or not self._accepting:
            return False
        outcome = _Outcome()
        token = _feeding.set(outcome)
        try:
            await app.update_processor.process_update(update, app.process_update(update))
        finally:
            _feeding.reset(token)
        return outcome.error is None

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        outcome = _feeding.get()
        if outcome is not None:
            outcome.error = context.error
        log.error("Telegram update failed", exc_info=context.error)

    async def _webhook(self, request: Request) -> Response:
        refused = check_secret(request.headers.get(SECRET_HEADER), self._secret)
        if refused is not None:
            log.info("Telegram webhook request refused (%d)", refused)
            return Response(status_code=refused)
        try:
            body = await _capped_body(request, MAX_BODY)
        except ClientDisconnect:
            return Response(status_code=400)
        if body is None:
            return Response(status_code=413)
        if self._app is None or not self._accepting:
            return Response(status_code=503)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep
            return _malformed("body is not JSON")
        problem = malformed_update(data)
        if problem is not None:
            return _malformed(problem)
        try:
            update = Update.de_json(data, self._app.bot)
        except Exception as error:  # PTB's own parse refused it: not an update either
            return _malformed(f"not an update ({type(error).__name__})")
        if update is None:
            return _malformed("not an update")
        return Response(status_code=200 if await self.feed(update) else 500)

    # ---- Gateway (called by the handlers) ----------------------------------------------

    async def admit(
        self,
        item: Inbound,
        *,
        reply_to: int | None,
        query: CallbackQuery | None = None,
        shows: str | None = None,
    ) -> None:
        services, shared = self._running()
        if not await services.manager.accept(item):
            return  # a redelivery: the first delivery does the work
        pressed = query.message if query is not None else None
        shown = None
        if shows and isinstance(pressed, Message):
            posted = Posted(
                pressed.chat.id,
                pressed.message_id,
                photo=bool(pressed.photo),
                poll=pressed.poll is not None,
            )
            shown = (shows, posted)
        # Stored beside the turn, not before it, so the turn keeps its place in the order.
        noted = services.work.spawn(
            shared.records.note_turn(item.address, reply_to=reply_to, shown=shown),
            name=f"telegram-note:{item.event_id}",
        )
        press = PressAnswer(query) if query is not None else None
        replier = TelegramReplier(
            shared,
            item.address,
            reply_to=reply_to,
            after=noted,
            alert=press.alert if press is not None else None,
        )

        async def work() -> None:
            # Answered once: a pop-up if the press is refused, else empty once the work is
            # done or soon (Telegram wants it promptly, or says "query is too old").
            quiet = None
            if press is not None:
                quiet = services.work.spawn(press.quietly_after(), name="telegram-press")
            try:
                async with replier.typing():
                    await services.manager.run(item, replier)
            finally:
                if press is not None:
                    await press.quietly()
                if quiet is not None:
                    quiet.cancel()

        services.work.spawn(work(), name=f"telegram:{item.event_id}")

    def answer(
        self,
        key: str,
        address: ConversationAddress,
        html: str,
        *,
        reply_to: int | None,
        markup: ReplyKeyboardMarkup | None = None,
    ) -> None:
        services, shared = self._running()
        if not self._answered.first(key):
            return
        replier = TelegramReplier(shared, address, reply_to=reply_to)

        async def work() -> None:
            await shared.records.note_turn(address)
            await replier.post_html(html, markup)

        services.work.spawn(work(), name=f"telegram-answer:{key}")

    def answer_query(self, query: CallbackQuery, text: str | None) -> None:
        services, _ = self._running()

        async def answer() -> None:
            with contextlib.suppress(TelegramError):
                await query.answer(text)

        services.work.spawn(answer(), name="telegram-answer-query")

    async def settings_html(self, address: ConversationAddress) -> str:
        services, _ = self._running()
        outgoing = await services.deps.outgoing.configured(address)
        mode = self._settings.payment_mode.value
        model = (
            "offline planner (plain commands only)" if services.offline else "Claude (free text)"
        )
        lines = [
            "<b>Concierge settings for this chat</b>",
            f"• Search and booking (Outgoing): {'on' if outgoing else 'not set up'}",
            f"• Payments: {escape(PAYMENTS.get(mode, mode))}",
            f"• Understanding: {model}",
            "• In groups I answer commands, messages that mention me and replies to my "
            "messages (with privacy mode on, Telegram only shows me those).",
            "• Say “forget me” to delete what I store about you here.",
        ]
        return "\n".join(lines)

    async def status_html(self, address: ConversationAddress, user_id: str) -> str:
        """`/status`: the person's open jobs in this chat, one line each."""
        services, _ = self._running()
        lines = await open_jobs_of(services.deps, address, user_id)
        if not lines:
            return "Nothing is running for you here right now."
        return "<b>Working on it for you</b>\n" + "\n".join(f"• {escape(line)}" for line in lines)

    async def callback_entry(self, token: str) -> CallbackEntry | None:
        if self._callbacks is None:
            return None  # not started: no button of ours can exist yet
        return await self._callbacks.load(token)

    async def poll_of(self, poll_id: str) -> PollRecord | None:
        _, shared = self._running()
        return await shared.records.find_poll(poll_id)

    def seen(self, address: ConversationAddress, sender_id: str, name: str | None) -> None:
        _, shared = self._running()
        shared.learn_name(sender_id, name)

    def chat_status(self, chat_id: int, active: bool) -> None:
        services, shared = self._running()
        if not active:
            log.info("Telegram chat %s removed or blocked the bot; marked inactive", chat_id)
        change = shared.records.activate if active else shared.records.deactivate
        services.work.spawn(quietly(change(str(chat_id))), name="telegram-chat-status")

    # ---- helpers -----------------------------------------------------------------------

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        if address.platform != PLATFORM or self._shared is None:
            return None
        return TelegramReplier(self._shared, address, anchored=True, raise_errors=True)

    def _running(self) -> tuple[Services, TelegramShared]:
        if self._services is None or self._shared is None:
            raise RuntimeError("the Telegram front-end is not started")
        return self._services, self._shared

    async def _register_commands(self) -> None:
        assert self._app is not None
        commands = [BotCommand(name, description) for name, description in COMMANDS]
        try:
            await self._app.bot.set_my_commands(commands)
        except TelegramError as error:
            log.warning("Telegram setMyCommands failed: %s", error)

    async def _set_webhook(self) -> None:
        assert self._app is not None
        url = f"{self._settings.public_url.rstrip('/')}{WEBHOOK_PATH}"
        await self._app.bot.set_webhook(
            url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES)
        )

    async def _keep_setting_webhook(self) -> None:
        try:
            await self._retrier.keep_trying(
                self._set_webhook, retryable=retry_later, label="Telegram setWebhook", failed=1
            )
        except InvalidToken:
            log.error("Telegram refused the bot token; the webhook is not set")

    async def _close_when_idle(self, services: Services) -> None:
        try:
            # The tracker offers no "idle" event, and drain() would wait on this task itself.
            while services.work.running > 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        finally:
            app, self._app = self._app, None
            if app is not None:
                with contextlib.suppress(Exception):
                    await app.stop()
                await app.shutdown()


class TelegramOutlet:
    """Later results (booking webhooks, resumed work) reach any Telegram conversation: its
    chat and topic, as a reply to the message the bot last answered there."""

    def __init__(self, front_end: TelegramFrontEnd) -> None:
        self._front_end = front_end

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self._front_end.replier_for(address)


def _malformed(problem: str) -> Response:
    """A request with the right secret whose body is not an update (`_webhook`)."""
    log.info("Telegram webhook request refused: %s", problem)
    return PlainTextResponse("malformed update", status_code=400)


async def _capped_body(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)
