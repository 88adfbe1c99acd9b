"""The Voyagent sandbox's reports (itinerary from the session, canned but balanced ledgers)
and the admin-only audit log with its CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.sandbox.responses import invalid, parse, query_data, validation_detail
from integrations.sandbox.voyagent_agent import HOTEL, trip_of
from integrations.sandbox.voyagent_routes import account_of, state_of
from integrations.sandbox.voyagent_state import ChatSession, fail

__all__ = [
    "AUDIT_CSV_HEADER",
    "audit_csv",
    "itinerary",
    "list_audit",
    "payables",
    "receivables",
    "trial_balance",
]

AUDIT_CSV_HEADER = (
    "created_at",
    "kind",
    "actor_kind",
    "actor_id",
    "actor_email",
    "status",
    "summary",
    "payload_json",
)
_PAYABLES = (("current", "1240.00"), ("1-30", "860.50"), ("31-60", "310.00"), ("61-90", "0.00"))
_RECEIVABLES = (("current", "4200.00"), ("1-30", "1520.50"), ("31-60", "600.00"))
_LEDGER = (
    ("1000", "Cash at bank", "18450.00", "0.00"),
    ("1100", "Accounts receivable", "6320.50", "0.00"),
    ("1200", "Supplier prepayments", "0.00", "0.00"),
    ("2000", "Accounts payable", "0.00", "2505.75"),
    ("2100", "Customer deposits", "0.00", "4800.00"),
    ("3000", "Retained earnings", "0.00", "0.00"),
    ("4000", "Sales: packages", "0.00", "21364.75"),
    ("5000", "Cost of sales: airlines", "3900.00", "0.00"),
)


class _ItineraryQuery(BaseModel):
    session_id: str


class _Range(BaseModel):
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class _BalanceQuery(BaseModel):
    as_of: date | None = None
    include_zero: bool = False


class _AuditQuery(BaseModel):
    actor_id: str | None = None
    kind: str | None = None
    start: date | datetime | None = Field(default=None, alias="from")
    end: date | datetime | None = Field(default=None, alias="to")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


def _money(amount: Decimal | int) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01")))


def _days(session: ChatSession, request: Request) -> tuple[list[dict[str, Any]], int]:
    """The itinerary's days and the total of the holds that were granted."""
    state = state_of(request)
    trip = trip_of(state, session)
    granted = {
        state.approval_facts[a]["kind"]: state.approval_facts[a]["amount"]
        for a, row in state.approvals.items()
        if row["session_id"] == session.id and row["status"] == "granted"
    }
    start = trip.depart or (state.now().date() + timedelta(days=30))
    last = trip.nights
    days: list[dict[str, Any]] = []
    for offset in range(last + 1):
        items: list[dict[str, Any]] = []
        if offset == 0 and "flight" in granted:
            title = f"TAP {trip.origin} → {trip.destination}"
            detail = f"{trip.travellers} seats held"
            items.append({"time": "09:40", "kind": "flight", "title": title, "detail": detail})
        if offset == 0 and "hotel" in granted:
            title, detail = f"Check in at {HOTEL}", f"{trip.nights} nights"
            items.append({"time": "15:00", "kind": "hotel", "title": title, "detail": detail})
        if offset == 0 and not items:
            items.append({"kind": "note", "title": f"Arrival in {trip.destination}"})
        if 0 < offset < last:
            items.append({"kind": "activity", "title": f"Free day in {trip.destination}"})
        if offset == last and "hotel" in granted:
            items.append({"time": "11:00", "kind": "hotel", "title": f"Check out of {HOTEL}"})
        if offset == last and "flight" in granted:
            title = f"TAP {trip.destination} → {trip.origin}"
            items.append({"time": "18:20", "kind": "flight", "title": title})
        day = (start + timedelta(days=offset)).isoformat()
        days.append({"date": day, "city": trip.destination, "items": items})
    return days, sum(granted.values())


async def itinerary(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    query = parse(_ItineraryQuery, query_data(request), "query")
    session = state.owned(state.sessions, query.session_id, account.tenant_id, "session_not_found")
    assert isinstance(session, ChatSession)
    days, total = _days(session, request)
    report = {
        "session_id": session.id,
        "title": session.title,
        "travellers": trip_of(state, session).travellers,
        "days": days,
        "total": {"amount": _money(total), "currency": "EUR"} if total else None,
    }
    return JSONResponse(report)


def _aging(request: Request, buckets: tuple[tuple[str, str], ...]) -> Response:
    query = parse(_Range, query_data(request), "query")
    if query.start > query.end:
        msg = "Value error, from must not be after to"
        raise invalid(validation_detail(["query", "from"], msg, "value_error"))
    total = sum((Decimal(amount) for _, amount in buckets), Decimal(0))
    report = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "currency": "EUR",
        "buckets": [{"label": label, "amount": amount} for label, amount in buckets],
        "total": _money(total),
    }
    return JSONResponse(report)


async def payables(request: Request) -> Response:
    return _aging(request, _PAYABLES)


async def receivables(request: Request) -> Response:
    return _aging(request, _RECEIVABLES)


async def trial_balance(request: Request) -> Response:
    state = state_of(request)
    query = parse(_BalanceQuery, query_data(request), "query")
    rows = [r for r in _LEDGER if query.include_zero or Decimal(r[2]) or Decimal(r[3])]
    accounts = [{"code": c, "name": n, "debit": d, "credit": k} for c, n, d, k in rows]
    report = {
        "as_of": (query.as_of or state.now().date()).isoformat(),
        "currency": "EUR",
        "accounts": accounts,
        "total_debit": _money(sum((Decimal(r[2]) for r in rows), Decimal(0))),
        "total_credit": _money(sum((Decimal(r[3]) for r in rows), Decimal(0))),
    }
    return JSONResponse(report)


def _bound(value: date | datetime | None, end: bool) -> datetime | None:
    """A filter bound as an aware datetime; a date ``to`` covers its whole (UTC) day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)


def _audit_rows(request: Request) -> tuple[list[dict[str, Any]], _AuditQuery]:
    state, account = state_of(request), account_of(request)
    query = parse(_AuditQuery, query_data(request), "query")
    low, high = _bound(query.start, False), _bound(query.end, True)
    rows = []
    for row in reversed(state.audit):
        created = datetime.fromisoformat(row["created_at"])
        if (
            row["tenant_id"] == account.tenant_id
            and (query.actor_id is None or row["actor_id"] == query.actor_id)
            and (query.kind is None or row["kind"] == query.kind)
            and (low is None or created >= low)
            and (high is None or created <= high)
        ):
            rows.append({k: v for k, v in row.items() if k != "tenant_id"})
    return rows, query


async def list_audit(request: Request) -> Response:
    rows, query = _audit_rows(request)
    page = rows[query.offset : query.offset + query.limit]
    return JSONResponse({"items": page, "total": len(rows)})


async def audit_csv(request: Request) -> Response:
    rows, _ = _audit_rows(request)
    if len(rows) > state_of(request).config.audit_export_max_rows:
        raise fail(413, "audit_export_too_large")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                row["created_at"],
                row["kind"],
                row["actor_kind"],
                row["actor_id"] or "",
                row["actor_email"] or "",
                row["status"],
                row["summary"],
                json.dumps(row["payload"], default=str),
            ]
        )
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
