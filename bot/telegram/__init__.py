"""The Telegram front-end: python-telegram-bot fed by `POST /telegram/webhook` (or long
polling), HTML replies with photos and inline keyboards, live status lines, and delivery of
later results to the right chat and topic."""

from bot.telegram.front_end import WEBHOOK_PATH, TelegramFrontEnd, TelegramOptions, TelegramOutlet
from bot.telegram.memory import CallbackEntry, CallbackStore
from bot.telegram.render import render_reply

__all__ = [
    "WEBHOOK_PATH",
    "CallbackEntry",
    "CallbackStore",
    "TelegramFrontEnd",
    "TelegramOptions",
    "TelegramOutlet",
    "render_reply",
]
