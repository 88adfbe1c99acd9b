"""Readers of partner error envelopes: status and body → message, code and detail.

Every partner words its errors differently (``{"error": "…", "code": "…"}``,
``{"error": {"code", "message"}}``, FastAPI's ``{"detail": …}``); the exception they become
is always the shared tree's (``integrations.errors.error_from_response``). A partner client
passes its reader to the shared transport; the reader only reads, it never decides retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ErrorBody",
    "ErrorReader",
    "json_payload",
    "read_error_body",
    "read_error_envelope",
    "read_fastapi_detail",
]

_MAX_MESSAGE = 2000


@dataclass(frozen=True)
class ErrorBody:
    """What an error body said. ``message`` None means "nothing readable" (the raw text or
    the status is used then); ``detail`` is a FastAPI-style list, kept for 422s."""

    message: str | None = None
    code: str | None = None
    detail: list[Any] | None = None


ErrorReader = Callable[[int, bytes], ErrorBody]
"""One per partner: (status, raw body) → what it said. Must never raise."""


def json_payload(body: bytes) -> Any:
    """The parsed JSON body, or None when it is empty or not JSON."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def raw_text(body: bytes) -> str | None:
    """A non-JSON body (a proxy's HTML, plain text), trimmed; None when empty."""
    text = body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE] if body else ""
    return text or None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def describe_detail(items: list[Any]) -> str:
    """FastAPI's ``[{"loc": [...], "msg": "..."}]`` as ``query.prompt: msg; …``."""
    parts = []
    for item in items:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
            msg = item.get("msg", "")
            parts.append(f"{where}: {msg}" if where else str(msg))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def read_error_body(status: int, body: bytes) -> ErrorBody:
    """The lenient default: understands every usual shape (``error`` as text or object,
    ``detail`` as text or list, ``message``, ``code``), else the raw text."""
    payload = json_payload(body)
    if not isinstance(payload, dict):
        return ErrorBody(raw_text(body))
    message: str | None = None
    detail: list[Any] | None = None
    error, raw_detail, raw_code = payload.get("error"), payload.get("detail"), payload.get("code")
    if isinstance(error, str):
        message = error
    elif isinstance(error, dict):  # {"error": {"message": ..., "code": ...}}
        message = _text(error.get("message"))
        raw_code = raw_code if raw_code is not None else error.get("code")
    if isinstance(raw_detail, list):
        detail = raw_detail
        if message is None:
            message = describe_detail(raw_detail)
    elif isinstance(raw_detail, str) and message is None:
        message = raw_detail
    if message is None:
        message = _text(payload.get("message"))
    return ErrorBody(message if message is not None else raw_text(body), _text(raw_code), detail)


def read_error_envelope(status: int, body: bytes) -> ErrorBody:
    """``{"error": {"code": "…", "message": "…"}}`` (Onegent): the code is machine-readable
    (``job_create_failed``, ``idempotency_conflict``…), the message is for people."""
    payload = json_payload(body)
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return read_error_body(status, body)
    details = error.get("details")
    return ErrorBody(
        _text(error.get("message")) or raw_text(body),
        _text(error.get("code")),
        details if isinstance(details, list) else None,
    )


def read_fastapi_detail(status: int, body: bytes) -> ErrorBody:
    """FastAPI's ``{"detail": "…"}`` or ``{"detail": [{"loc", "msg", "type"}, …]}``
    (Voyagent); an object ``detail`` may carry its own ``code`` and ``message``."""
    payload = json_payload(body)
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        return ErrorBody(detail)
    if isinstance(detail, list):
        return ErrorBody(describe_detail(detail) or raw_text(body), None, detail)
    if isinstance(detail, dict):
        message = _text(detail.get("message")) or _text(detail.get("msg")) or raw_text(body)
        return ErrorBody(message, _text(detail.get("code")))
    return read_error_body(status, body)
