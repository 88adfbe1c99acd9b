"""Which numbers the concierge dials, and how the backup webhook's signatures are checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from conversations.capabilities.callagent.phone import NumberRefused, dialable, human
from conversations.capabilities.callagent.webhook import signature_ok


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+1 212 555 0100", None, "+12125550100"),
        ("(212) 555-0100", "US", "+12125550100"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),  # a number in another country
        ("+33 1 42 68 53 00", None, "+33142685300"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, country: str | None, e164: str) -> None:
    assert dialable(raw, country=country).e164 == e164


def test_a_local_number_without_a_country_asks_for_it() -> None:
    with pytest.raises(NumberRefused) as refused:
        dialable("020 7946 0958")
    assert refused.value.needs_country and "Which country" in str(refused.value)


@pytest.mark.parametrize(
    ("raw", "country", "why"),
    [
        ("+1 900 555 1234", None, "premium-rate"),
        ("+44 871 123 4567", None, "premium-rate"),
        ("911", None, "emergency"),
        ("112", "GB", "emergency"),
        ("999", "GB", "emergency"),
        ("+1 212 555", None, "isn't a valid phone number"),
        ("call me", None, "doesn't look like a phone number"),
    ],
)
def test_costly_emergency_and_invalid_numbers_are_refused(
    raw: str, country: str | None, why: str
) -> None:
    with pytest.raises(NumberRefused) as refused:
        dialable(raw, country=country)
    assert why in str(refused.value) and not refused.value.needs_country


def test_numbers_are_shown_as_people_read_them() -> None:
    assert human("+12125550100") == "+1 212-555-0100"
    assert human("+442079460958") == "+44 20 7946 0958"


SECRET = "s3cret-from-the-partner"
BODY = b'{"type":"ask_user","call_id":"c1","request_id":"r1","question":"Which time?"}'


def _hex(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _standard(secret: str, body: bytes, stamp: int, hook_id: str = "msg_1") -> dict[str, str]:
    signed = f"{hook_id}.{stamp}.".encode() + body
    digest = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return {
        "webhook-id": hook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,bm90IGl0 v1,{digest.decode()}",
    }


def test_both_signature_schemes_are_accepted() -> None:
    assert signature_ok(SECRET, BODY, {"x-signature-256": _hex(SECRET, BODY)})
    assert signature_ok(SECRET, BODY, _standard(SECRET, BODY, int(time.time())))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-signature-256": _hex("another secret", BODY)},
        {"x-signature-256": _hex(SECRET, BODY + b" ")},
        {"x-signature-256": "sha256=zz"},
        _standard("another secret", BODY, int(time.time())),
        _standard(SECRET, BODY, int(time.time()) - 3600),  # stale: replayed an hour later
        {**_standard(SECRET, BODY, int(time.time())), "webhook-timestamp": "soon"},
        {"x-signature-256": _hex(SECRET, BODY), "webhook-timestamp": str(int(time.time()) - 900)},
    ],
)
def test_bad_missing_or_stale_signatures_are_refused(headers: dict[str, str]) -> None:
    assert not signature_ok(SECRET, BODY, headers)
