"""Request checks of the Events sandbox, answering the spec's codes in its envelope."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime
from typing import Any

from starlette.requests import Request

from integrations.sandbox.responses import ApiError

__all__ = ["api_error", "body_object", "check_text", "page", "partner_id", "webhook_url"]

_PARTNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_KINDS = frozenset({"event", "session", "attendee"})
ATTENDEE_LIMITS = {"email": 320, "linkedin_url": 2048, "title": 512, "company": 512}


def api_error(status: int, code: str, message: str) -> ApiError:
    """The envelope; the app adds ``correlation_id`` when it answers."""
    return ApiError(status, {"error": {"code": code, "message": message}})


def partner_id(value: str, what: str = "partner id") -> str:
    if _PARTNER_ID.fullmatch(value) is None:
        raise api_error(400, "INVALID_PARTNER_ID", f"{what} is not a valid partner id")
    return value


def partner_kind(value: str) -> str:
    if value not in _KINDS:
        raise api_error(400, "INVALID_PARTNER_KIND", "kind must be event, session or attendee")
    return value


async def body_object(request: Request, max_bytes: int) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > max_bytes:
        raise api_error(413, "PAYLOAD_TOO_LARGE", f"Request body is over {max_bytes} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise api_error(400, "INVALID_JSON", "Request body must be a JSON object")
    return body


def check_text(
    body: dict[str, Any], name: str, limit: int, code: str, *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise api_error(400, code, f"{name} must be a non-empty string of at most {limit}")
    return value


def webhook_url(body: dict[str, Any]) -> str | None:
    value = body.get("webhook_url")
    ok = value is None or (
        isinstance(value, str) and len(value) <= 2048 and value.startswith(("https://", "http://"))
    )
    if not ok:
        raise api_error(400, "INVALID_WEBHOOK_URL", "webhook_url must be an http(s) URL")
    return value


def idempotency_key(body: dict[str, Any]) -> str:
    value = body.get("idempotency_key")
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise api_error(400, "INVALID_IDEMPOTENCY_KEY", "idempotency_key is required (≤ 255)")
    return value


def attendee_rows(body: dict[str, Any], max_rows: int) -> list[dict[str, Any]]:
    rows = body.get("attendees")
    if not isinstance(rows, list) or not rows:
        raise api_error(400, "INVALID_ATTENDEES", "attendees must be a non-empty array")
    if len(rows) > max_rows:
        raise api_error(413, "PAYLOAD_TOO_LARGE", f"At most {max_rows} attendees per import")
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("attendee_id"), str):
            raise api_error(400, "INVALID_ATTENDEE", "each attendee needs an attendee_id")
        partner_id(row["attendee_id"], "attendee_id")
        if row["attendee_id"] in seen:
            raise api_error(400, "DUPLICATE_ATTENDEE_ID", f"{row['attendee_id']} is repeated")
        seen.add(row["attendee_id"])
        check_text(row, "name", 240, "INVALID_ATTENDEE_NAME", required=True)
        for name, limit in ATTENDEE_LIMITS.items():
            check_text(row, name, limit, f"INVALID_ATTENDEE_{name.upper()}")
        if row.get("raw_data") is not None and not isinstance(row["raw_data"], dict):
            raise api_error(400, "INVALID_ATTENDEE_RAW_DATA", "raw_data must be an object")
    return rows


def page(request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
    """``limit`` (1-100, default 50) items from ``cursor`` on, and the next cursor."""
    raw_limit = request.query_params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise api_error(400, "INVALID_LIMIT", "limit must be between 1 and 100")
    start = 0
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
        except ValueError:
            raise api_error(400, "INVALID_CURSOR", "cursor is not valid") from None
    end = start + int(raw_limit)
    more = end < len(items)
    next_cursor = base64.urlsafe_b64encode(f"o:{end}".encode()).decode() if more else None
    return items[start:end], next_cursor


def check_date(body: dict[str, Any], name: str, code: str, *, timestamp: bool = False) -> None:
    """An optional ISO date (or, with ``timestamp``, an ISO date-time)."""
    value = body.get(name)
    if value is None:
        return
    try:
        parsed = (datetime.fromisoformat if timestamp else date.fromisoformat)(str(value))
    except ValueError:
        parsed = None
    if not isinstance(value, str) or parsed is None:
        raise api_error(400, code, f"{name} must be an ISO {'timestamp' if timestamp else 'date'}")
