"""The shared layers the Outgoing client is built on: error mapping, retry, models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.errors import (
    BadRequest,
    PartnerHTTPError,
    PartnerTimeout,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    error_from_response,
)
from integrations.outgoing.client import parse_aauth_requirement
from integrations.outgoing.models import (
    BookingStatus,
    BookingTicketItem,
    BookingWebhookPayload,
    CreateBookingRequest,
    HTTPValidationError,
    PartnerSessionTicket,
    PaymentMode,
    ProvisionUserRequest,
    ProvisionUserResponse,
    ShelvesResponse,
)
from integrations.retry import Retrier, RetryPolicy, parse_retry_after

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


# --------------------------------------------------------------------------- retry


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("soon", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Mon, 01 Jun 2026 12:00:10 GMT", 10.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.text(max_size=60))
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0


def test_full_jitter_backoff_is_bounded_and_capped() -> None:
    top = Retrier(RetryPolicy(base_delay=1.0, max_delay=5.0), random=lambda: 0.999999)
    bottom = Retrier(RetryPolicy(base_delay=1.0, max_delay=5.0), random=lambda: 0.0)
    assert [round(top.backoff(n), 3) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert bottom.backoff(3) == 0.0


async def test_retrier_only_retries_what_the_caller_declares() -> None:
    sleeps = Sleeps()
    retrier = Retrier(sleep=sleeps, random=lambda: 1.0)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise PartnerTimeout("slow", partner="p", phase="connect")
        return "done"

    assert await retrier.run(flaky, retryable=lambda exc: True) == "done"
    assert calls == 3
    assert sleeps.delays == [0.5, 1.0]

    calls = 0
    with pytest.raises(PartnerTimeout):
        await retrier.run(flaky, retryable=lambda exc: False)
    assert calls == 1


async def test_retrier_stops_after_max_attempts() -> None:
    sleeps = Sleeps()
    retrier = Retrier(RetryPolicy(max_attempts=3), sleep=sleeps)
    calls = 0

    async def always() -> None:
        nonlocal calls
        calls += 1
        raise RateLimited(429, None, "slow", partner="p", retry_after=4.0)

    with pytest.raises(RateLimited):
        await retrier.run(always, retryable=lambda exc: True)
    assert calls == 3
    assert sleeps.delays == [4.0, 4.0]


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --------------------------------------------------------------------------- errors


def test_error_shapes() -> None:
    def make(status: int, body: bytes, **headers: str) -> PartnerHTTPError:
        return error_from_response(partner="p", status=status, body=body, headers=headers, now=NOW)

    e = make(401, b'{"error": "Invalid API key.", "code": "key_invalid"}')
    assert isinstance(e, Unauthorized)
    assert (e.code, e.message) == ("key_invalid", "Invalid API key.")
    assert str(e) == "p: HTTP 401 [key_invalid]: Invalid API key."

    e = make(400, b'{"detail": "X-External-User-Id not allowed"}')
    assert isinstance(e, BadRequest)
    assert e.message == "X-External-User-Id not allowed"

    e = make(400, b'{"error": {"message": "nested", "code": "c1"}}')
    assert (e.message, e.code) == ("nested", "c1")

    e = make(422, b'{"detail": [{"loc": ["body", "tickets"], "msg": "too short", "type": "t"}]}')
    assert isinstance(e, ValidationFailed)
    assert e.message == "body.tickets: too short"
    assert e.detail[0]["msg"] == "too short"

    e = make(503, b"", **{"Retry-After": "12"})
    assert isinstance(e, ServiceUnavailable)
    assert isinstance(e, ServerError)
    assert (e.retry_after, e.message, e.retryable) == (12.0, "HTTP 503", True)

    e = make(504, b"upstream timed out")
    assert type(e) is ServerError
    assert e.retryable

    e = make(429, b'{"message": "slow"}')
    assert isinstance(e, RateLimited)
    assert (e.message, e.retry_after) == ("slow", None)


def test_error_redacts_secrets_everywhere() -> None:
    secret = "og_api_topsecret"
    body = (
        b'{"error": "bad og_api_topsecret", "code": "og_api_topsecret",'
        b' "detail": [{"loc": ["header"], "msg": "m", "type": "t", "input": "og_api_topsecret"}]}'
    )
    e = error_from_response(partner="p", status=422, body=body, headers={}, redact=[secret])
    assert isinstance(e, ValidationFailed)
    assert secret not in repr(e)
    assert secret not in str(e.detail)
    assert secret not in str(e.code)


@given(st.integers(min_value=400, max_value=599), st.binary(max_size=200))
def test_error_mapping_never_crashes(status: int, body: bytes) -> None:
    e = error_from_response(partner="p", status=status, body=body, headers={})
    assert e.status == status
    assert e.message


def test_aauth_requirement_parsing() -> None:
    parsed = parse_aauth_requirement(
        'requirement=interaction; url="https://x.test/u?a=1;b"; code="A\\"B"'
    )
    assert parsed == {"requirement": "interaction", "url": "https://x.test/u?a=1;b", "code": 'A"B'}
    assert parse_aauth_requirement("requirement=agent-token") == {"requirement": "agent-token"}
    assert parse_aauth_requirement("") == {}


# --------------------------------------------------------------------------- models


def test_request_models_are_strict() -> None:
    with pytest.raises(pydantic.ValidationError):
        BookingTicketItem(ticket_type_name="GA", num_ticket=2)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        BookingTicketItem(ticket_type_name="GA", num_tickets=0)
    with pytest.raises(pydantic.ValidationError):
        ProvisionUserRequest.model_validate({"external_user_id": "u", "surprise": 1})
    base = {
        "external_user_id": "u",
        "activity_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "tickets": [{"ticket_type_name": "GA"}],
        "authorization_amount_cents": 0,
        "idempotency_key": "k",
        "webhook_url": "http://127.0.0.1/hook",
        "payment_mode": "dry_run_failure",
    }
    request = CreateBookingRequest.model_validate(base)
    assert request.payment_mode is PaymentMode.DRY_RUN_FAILURE
    assert request.tickets[0].num_tickets == 1
    bad_fields: list[dict[str, object]] = [
        {"tickets": []},
        {"authorization_amount_cents": -1},
        {"webhook_url": "ftp://x"},
        {"activity_id": "not-a-uuid"},
        {"payment_mode": "free"},
    ]
    for bad in bad_fields:
        with pytest.raises(pydantic.ValidationError):
            CreateBookingRequest.model_validate({**base, **bad})


def test_response_models_defaults_and_tolerance() -> None:
    ticket = PartnerSessionTicket.model_validate({"name": "GA", "price": 10, "total": 11, "x": 1})
    assert (ticket.fee, ticket.available, ticket.is_free, ticket.min_quantity) == (
        0.0,
        True,
        False,
        1,
    )
    assert ProvisionUserResponse(external_user_id="u", created=False).model_dump() == {
        "external_user_id": "u",
        "created": False,
        "linked": False,
        "updated": True,
    }
    with pytest.raises(pydantic.ValidationError):
        ShelvesResponse.model_validate({"shelves": [], "h3_cell": "x"})
    assert HTTPValidationError.model_validate({}).detail == []


def test_webhook_payload_roundtrip_and_unknown_ticket_keys() -> None:
    payload = BookingWebhookPayload.model_validate(
        {
            "booking_id": "bk_1",
            "idempotency_key": "k",
            "status": "confirmed",
            "activity_id": "a",
            "external_user_id": "u",
            "tickets": [{"ticket_type_name": "GA", "num_tickets": 2, "seat": "A1"}],
            "authorization_amount_cents": 3000,
            "booking_fee_cents": 150,
            "resolved_at": "2026-06-01T12:00:00Z",
            "ticket_details": {"confirmation_code": "OG-1"},
            "new_field": True,
        }
    )
    assert payload.status is BookingStatus.CONFIRMED
    assert payload.tickets[0].num_tickets == 2
    assert payload.resolved_at == NOW
    dumped = payload.model_dump(mode="json")
    assert dumped["status"] == "confirmed"
    assert dumped["ticket_details"]["download_urls"] == []
    assert BookingWebhookPayload.model_validate(dumped) == payload
