"""The Voyagent sandbox's enquiry routes: create, list (filters and ``q``), get, patch and
the idempotent promotion to a chat session."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.sandbox.responses import invalid, parse, query_data, validation_detail
from integrations.sandbox.voyagent_routes import account_of, body_of, state_of
from integrations.sandbox.voyagent_routes_chat import new_session
from integrations.sandbox.voyagent_state import fail

__all__ = ["create_enquiry", "get_enquiry", "list_enquiries", "patch_enquiry", "promote"]

Status = Literal["new", "quoted", "booked", "cancelled"]
_TERMINAL = frozenset({"booked", "cancelled"})
_FIELDS = (
    "customer_name",
    "customer_email",
    "origin",
    "destination",
    "depart_date",
    "return_date",
    "travellers",
    "budget",
    "notes",
    "reference",
)


class _Budget(BaseModel):
    amount: str = Field(pattern=r"^\d{1,9}(\.\d{1,2})?$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class _EnquiryFields(BaseModel):
    customer_name: str | None = Field(default=None, max_length=200)
    customer_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    origin: str | None = Field(default=None, max_length=120)
    depart_date: date | None = None
    return_date: date | None = None
    travellers: int | None = Field(default=None, ge=1, le=50)
    budget: _Budget | None = None
    notes: str | None = Field(default=None, max_length=4000)
    reference: str | None = Field(default=None, max_length=120)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.depart_date and self.return_date and self.return_date < self.depart_date:
            raise ValueError("return_date must not be before depart_date")
        return self


class _NewEnquiry(_EnquiryFields):
    destination: str = Field(min_length=1, max_length=120)


class _Patch(_EnquiryFields):
    destination: str | None = Field(default=None, min_length=1, max_length=120)
    status: Status | None = None


class _ListQuery(BaseModel):
    status: Status | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)
    q: str | None = None
    customer_email: str | None = None
    destination: str | None = None
    origin: str | None = None
    depart_from: date | None = None
    depart_to: date | None = None
    created_from: date | None = None
    created_to: date | None = None


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    """JSON values for the stored enquiry (dates as ISO strings, amounts with two places)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, date):
            value = value.isoformat()
        elif name == "budget" and value is not None:
            amount = Decimal(value["amount"]).quantize(Decimal("0.01"))
            value = {"amount": str(amount), "currency": value["currency"]}
        out[name] = value
    return out


def _enquiry(request: Request) -> dict[str, Any]:
    state, account = state_of(request), account_of(request)
    enquiry_id = str(request.path_params["enquiry_id"])
    row = state.owned(state.enquiries, enquiry_id, account.tenant_id, "enquiry_not_found")
    assert isinstance(row, dict)
    return row


async def create_enquiry(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    body = await body_of(_NewEnquiry, request)
    now = state.stamp()
    enquiry = {
        "id": state.new_id("enq"),
        "status": "new",
        **_wire(body.model_dump(include=set(_FIELDS))),
        "session_id": None,
        "created_at": now,
        "updated_at": now,
    }
    state.enquiries[enquiry["id"]] = enquiry
    state.owners[enquiry["id"]] = account.tenant_id
    summary = f"enquiry for {body.destination}"
    state.record(account, account.tenant_id, "enquiry.created", summary, {"id": enquiry["id"]})
    return JSONResponse(enquiry, status_code=201)


def _contains(value: Any, term: str | None) -> bool:
    return term is None or term.casefold() in str(value or "").casefold()


def _within(value: str | None, low: date | None, high: date | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    day = datetime.fromisoformat(value).date()
    return (low is None or day >= low) and (high is None or day <= high)


async def list_enquiries(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    query = parse(_ListQuery, query_data(request), "query")
    for low, high in (("depart_from", "depart_to"), ("created_from", "created_to")):
        start, end = getattr(query, low), getattr(query, high)
        if start and end and start > end:
            msg = f"Value error, {low} must not be after {high}"
            raise invalid(validation_detail(["query", low], msg, "value_error"))
    rows = [
        row
        for enquiry_id, row in reversed(state.enquiries.items())
        if state.owners.get(enquiry_id) == account.tenant_id
        and (query.status is None or row["status"] == query.status)
        and (
            query.q is None
            or any(_contains(row[name], query.q) for name in ("destination", "notes", "reference"))
        )
        and _contains(row["customer_email"], query.customer_email)
        and _contains(row["destination"], query.destination)
        and _contains(row["origin"], query.origin)
        and _within(row["depart_date"], query.depart_from, query.depart_to)
        and _within(row["created_at"], query.created_from, query.created_to)
    ]
    page = rows[query.offset : query.offset + query.limit]
    return JSONResponse({"items": page, "total": len(rows)})


async def get_enquiry(request: Request) -> Response:
    return JSONResponse(_enquiry(request))


async def patch_enquiry(request: Request) -> Response:
    """Omitted fields stay; explicit nulls clear them (``destination`` and ``status`` can't)."""
    state, account = state_of(request), account_of(request)
    enquiry = _enquiry(request)
    body = await body_of(_Patch, request)
    dumped = body.model_dump()
    changed = {name: dumped[name] for name in body.model_fields_set}
    for name in ("destination", "status"):
        if name in changed and changed[name] is None:
            msg = "Input should be a valid string"
            raise invalid(validation_detail(["body", name], msg, "string_type"))
    new_status = changed.get("status", enquiry["status"])
    if enquiry["status"] in _TERMINAL and new_status not in _TERMINAL:
        raise fail(409, "enquiry_terminal")
    merged = {**enquiry, **_wire(changed)}
    depart, back = merged["depart_date"], merged["return_date"]
    if depart and back and back < depart:
        msg = "Value error, return_date must not be before depart_date"
        raise invalid(validation_detail(["body"], msg, "value_error"))
    enquiry.update(merged, updated_at=state.stamp())
    payload = {"id": enquiry["id"], "fields": sorted(changed)}
    summary = f"enquiry for {enquiry['destination']} updated"
    state.record(account, account.tenant_id, "enquiry.updated", summary, payload)
    return JSONResponse(enquiry)


async def promote(request: Request) -> Response:
    """Idempotent: an enquiry with a session answers that session again."""
    state, account = state_of(request), account_of(request)
    enquiry = _enquiry(request)
    if enquiry["session_id"] is None:
        title = f"{enquiry['destination']} trip"
        enquiry["session_id"] = new_session(state, account, title, enquiry["id"]).id
        enquiry["updated_at"] = state.stamp()
    return JSONResponse({"enquiry_id": enquiry["id"], "session_id": enquiry["session_id"]})
