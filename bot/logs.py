"""Logging set-up with redaction at the formatter: secrets never reach a log line.

Known secret values are masked, and so are the shapes of tokens we handle (Slack `xox…`,
Telegram bot tokens, Outgoing `og_api_…`, `whsec_…`, bearer headers, bind tokens in links and
in the bind call's body), whoever logs them. Libraries that log SQL parameters, request and
response bodies or prompts at DEBUG are held above that level (`QUIET_LOGGERS`), so `--debug`
shows the concierge's own reasoning without people's words.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

SECRET_SHAPES = re.compile(
    r"(xox[abeposr]-[A-Za-z0-9-]+"
    r"|(?<=[?&]token=)[A-Za-z0-9_-]{16,}"
    r"|(?<=bind_token\": \")[A-Za-z0-9_-]{16,}"
    r"|xapp-[A-Za-z0-9-]+"
    r"|\b\d{6,12}:[A-Za-z0-9_-]{30,}"
    r"|og_api_[A-Za-z0-9_]+"
    r"|whsec_[A-Za-z0-9_+/=-]+"
    r"|sk-ant-[A-Za-z0-9_-]+"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+)"
)
MASK = "[redacted]"

QUIET_LOGGERS: dict[str, int] = {
    # Full URLs (tokens in Telegram paths, capability URLs) at INFO; headers at DEBUG.
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx2": logging.WARNING,
    "httpcore2": logging.WARNING,
    "hpack": logging.WARNING,
    "h2": logging.WARNING,
    "urllib3": logging.WARNING,
    "uvicorn.access": logging.WARNING,
    # Every statement with its parameters (people's words, sealed blobs) at INFO.
    "sqlalchemy": logging.WARNING,
    # Below INFO: SQL parameters (aiosqlite, asyncpg), the whole prompt as "Request options"
    # (anthropic), request and response bodies with `oauth.v2.access` tokens and the welcome
    # DM's bind token (slack_sdk, slack_bolt), every Bot API call's parameters and every
    # update (python-telegram-bot), Socket Mode frames (websockets, aiohttp).
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "anthropic": logging.INFO,
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "bot.slack.bolt": logging.INFO,  # our bolt app's logger: "Responding with … body: …"
    "telegram": logging.INFO,
    "websockets": logging.INFO,
    "aiohttp": logging.INFO,
}
"""Loggers that print people's words, bodies or secrets below these levels: never below
them, even with `--debug`."""


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return SECRET_SHAPES.sub(MASK, text)


def configure_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, floor))
