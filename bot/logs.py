"""Logging set-up with redaction at the formatter: secrets never reach a log line.

Known secret values are masked, and so are the shapes of tokens we handle (Slack `xox…`,
Telegram bot tokens, Outgoing `og_api_…`, `whsec_…`, bearer headers, bind tokens in links and
in the bind call's body), whoever logs them.
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
    # httpx logs full URLs (tokens in Telegram paths, capability URLs) at INFO.
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # slack_sdk logs request and response bodies at DEBUG: `oauth.v2.access` codes and
    # tokens, and the welcome DM's bind token. Never below INFO, even with --debug.
    logging.getLogger("slack_sdk").setLevel(max(level, logging.INFO))
