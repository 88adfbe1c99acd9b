"""Zod-like validation of ``POST /execution-jobs`` bodies, written apart from the client's
models so that the sandbox is a second reading of the spec, not a copy of the client.

Like zod, objects strip unknown keys, every problem becomes one issue
``{"code", "path", "message"}`` (zod 3's codes and wording: ``invalid_type``/"Required",
``too_small``, ``invalid_string``, ``invalid_enum_value``, ``custom``…), and defaults are
filled in (``consent``). Optional fields also accept ``null`` (``.nullish()``). Messages
never quote a profile value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InvalidBody", "ValidatedJob", "validate_job_request"]

_MISSING: Any = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SCENARIOS = ("restaurant", "hotel", "flight", "activity")

Path = list[str | int]
Issue = dict[str, Any]


class InvalidBody(Exception):
    """The body failed validation: answer 400 ``invalid_request`` with these issues."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(f"{len(issues)} validation issue(s)")
        self.issues = issues


@dataclass(frozen=True, slots=True)
class _F:
    """One field: its kind, whether required, bounds and default."""

    kind: str  # string | int | number | boolean | date | time | email | strings | literal
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    literal: str | None = None
    default: Any = _MISSING


def _req(kind: str, **kw: Any) -> _F:
    return _F(kind, True, **kw)


def _opt(kind: str, **kw: Any) -> _F:
    return _F(kind, False, **kw)


Schema = dict[str, _F]
#: zod names the JSON type it expected, not our field kind
_EXPECTED = {"date": "string", "time": "string", "email": "string", "literal": "string"}
_EXPECTED |= {"int": "number", "strings": "array"}

PARAMS: dict[str, Schema] = {
    "restaurant": {
        "restaurant_name": _req("string"),
        "city": _req("string"),
        "date": _req("date"),
        "time": _req("time"),
        "covers": _req("int", minimum=1),
        "cuisine": _opt("string"),
        "neighborhood": _opt("string"),
        "budget_per_person": _opt("number", minimum=0),
    },
    "hotel": {
        "hotel_name": _req("string"),
        "city": _req("string"),
        "checkin": _req("date"),
        "checkout": _req("date"),
        "adults": _req("int", minimum=1),
        "star_rating": _opt("number", minimum=0, maximum=5),
        "neighborhood": _opt("string"),
        "budget_max_per_night": _opt("number", minimum=0),
        "room_preference": _opt("string"),
    },
    "flight": {
        "origin": _req("string"),
        "dest": _req("string"),
        "date": _req("date"),
        "passengers": _req("int", minimum=1),
        "return_date": _opt("date"),
        "cabin_class": _opt("string"),
        "targetAirline": _opt("string"),
        "targetPrice": _opt("number", minimum=0),
        "targetDepartureTime": _opt("time"),
        "targetFlightNumber": _opt("string"),
    },
    "activity": {
        "event_name": _req("string"),
        "city": _req("string"),
        "event_date": _req("date"),
        "num_tickets": _req("int", minimum=1),
        "seat_type": _opt("string"),
        "budget_max_per_ticket": _opt("number", minimum=0),
    },
}
PROFILE: Schema = {
    "first_name": _req("string"),
    "last_name": _req("string"),
    "email": _req("email"),
    "phone": _req("string"),
    "dob": _opt("date"),
    "passport_number": _opt("string"),
    "passport_country": _opt("string"),
    "known_traveler_number": _opt("string"),
}
FLIGHT_PROFILE = ("dob", "passport_number", "passport_country")
CONSENT: Schema = {
    "allowTimeAdjustment": _opt("boolean", default=True),
    "maxTimeAdjustmentMinutes": _opt("int", minimum=0, default=90),
    "allowVenueSwitch": _opt("boolean", default=True),
    "maxRetries": _opt("int", minimum=0, default=3),
    "paymentPolicy": _opt("literal", literal="stop_before_cvc", default="stop_before_cvc"),
    "allowedProviders": _opt("strings", default=None),
    "blockedProviders": _opt("strings", default=[]),
    "maxJobDurationSeconds": _opt("int", minimum=1, default=420),
}
METADATA: Schema = {
    "agentId": _opt("string"),
    "userId": _opt("string"),
    "sessionId": _opt("string"),
    "idempotencyKey": _opt("string", max_length=255),
}


@dataclass(slots=True)
class ValidatedJob:
    """A body that passed: unknown keys stripped, consent defaults filled in."""

    scenario: str
    params: dict[str, Any]
    profile: dict[str, Any] | None = field(repr=False)
    profile_id: int | None
    consent: dict[str, Any]
    client_metadata: dict[str, Any]

    @property
    def idempotency_key(self) -> str | None:
        key = self.client_metadata.get("idempotencyKey")
        return key if isinstance(key, str) else None


def _received(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMATS: dict[str, tuple[Callable[[str], object], str]] = {
    "date": (_is_date, "Invalid date, expected YYYY-MM-DD"),
    "time": (_TIME.fullmatch, "Invalid time, expected HH:MM (24h)"),
    "email": (_EMAIL.fullmatch, "Invalid email"),
}


class _Checker:
    """Collects every issue of one body (zod reports them all, not the first)."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def issue(self, code: str, path: Path, message: str, **extra: Any) -> None:
        self.issues.append({"code": code, "path": path, "message": message, **extra})

    def required(self, path: Path, expected: str) -> None:
        self.issue("invalid_type", path, "Required", expected=expected, received="undefined")

    def wrong_type(self, path: Path, expected: str, value: Any) -> None:
        received = _received(value)
        message = f"Expected {expected}, received {received}"
        self.issue("invalid_type", path, message, expected=expected, received=received)

    def object(self, value: Any, schema: Schema, path: Path) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.wrong_type(path, "object", value)
            return None
        out: dict[str, Any] = {}
        for name, spec in schema.items():
            where = [*path, name]
            raw = value.get(name, _MISSING)
            if raw is _MISSING or (raw is None and not spec.required):
                if spec.required:
                    self.required(where, _EXPECTED.get(spec.kind, spec.kind))
                elif spec.default is not _MISSING:
                    default = spec.default
                    out[name] = list(default) if isinstance(default, list) else default
                continue
            checked = self.value(raw, spec, where)
            if checked is not _MISSING:
                out[name] = checked
        return out

    def value(self, value: Any, spec: _F, path: Path) -> Any:
        kind = spec.kind
        if kind in ("string", "date", "time", "email", "literal"):
            if not isinstance(value, str):
                self.wrong_type(path, "string", value)
                return _MISSING
            return self.text(value, spec, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                self.wrong_type(path, "boolean", value)
                return _MISSING
            return value
        if kind == "strings":
            items = value if isinstance(value, list) else None
            if items is None or not all(isinstance(item, str) for item in items):
                self.wrong_type(path, "array", value)
                return _MISSING
            return list(items)
        return self.number(value, spec, path)

    def text(self, value: str, spec: _F, path: Path) -> Any:
        if spec.kind == "literal":
            if value != spec.literal:
                message = f'Invalid literal value, expected "{spec.literal}"'
                self.issue("invalid_literal", path, message, expected=spec.literal)
                return _MISSING
            return value
        if not value.strip():
            message = "String must contain at least 1 character(s)"
            self.issue("too_small", path, message, minimum=1, type="string")
            return _MISSING
        if spec.max_length is not None and len(value) > spec.max_length:
            message = f"String must contain at most {spec.max_length} character(s)"
            self.issue("too_big", path, message, maximum=spec.max_length, type="string")
            return _MISSING
        format_check = _FORMATS.get(spec.kind)
        if format_check is not None and not format_check[0](value):
            self.issue("invalid_string", path, format_check[1], validation=spec.kind)
            return _MISSING
        return value

    def number(self, value: Any, spec: _F, path: Path) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.wrong_type(path, "number", value)
            return _MISSING
        if spec.kind == "int" and not float(value).is_integer():
            message = "Expected integer, received float"
            self.issue("invalid_type", path, message, expected="integer", received="float")
            return _MISSING
        if spec.minimum is not None and value < spec.minimum:
            message = f"Number must be greater than or equal to {spec.minimum:g}"
            self.issue("too_small", path, message, minimum=spec.minimum, type="number")
            return _MISSING
        if spec.maximum is not None and value > spec.maximum:
            message = f"Number must be less than or equal to {spec.maximum:g}"
            self.issue("too_big", path, message, maximum=spec.maximum, type="number")
            return _MISSING
        return int(value) if spec.kind == "int" else value


def _scenario(check: _Checker, request: dict[str, Any]) -> str | None:
    scenario = request.get("scenario", _MISSING)
    path: Path = ["request", "scenario"]
    if scenario is _MISSING:
        check.required(path, "string")
        return None
    if scenario not in _SCENARIOS:
        shown = str(scenario)[:40]
        options = " | ".join(f"'{s}'" for s in _SCENARIOS)
        message = f"Invalid enum value. Expected {options}, received '{shown}'"
        check.issue("invalid_enum_value", path, message, options=list(_SCENARIOS))
        return None
    return str(scenario)


def _optional_object(
    check: _Checker, body: dict[str, Any], name: str, schema: Schema
) -> dict[str, Any] | None:
    value = body.get(name)
    return None if value is None else check.object(value, schema, [name])


def _defaults(schema: Schema) -> dict[str, Any]:
    """What an absent object means: its defaults (``consent`` omitted entirely)."""
    return _Checker().object({}, schema, []) or {}


def validate_job_request(body: Any) -> ValidatedJob:
    """The validated body, or :class:`InvalidBody` with every issue found."""
    check = _Checker()
    if not isinstance(body, dict):
        check.wrong_type([], "object", body)
        raise InvalidBody(check.issues)
    request = body.get("request", _MISSING)
    scenario: str | None = None
    params: dict[str, Any] | None = None
    if request is _MISSING:
        check.required(["request"], "object")
    elif not isinstance(request, dict):
        check.wrong_type(["request"], "object", request)
    else:
        scenario = _scenario(check, request)
        raw_params = request.get("params", _MISSING)
        path: Path = ["request", "params"]
        if raw_params is _MISSING:
            check.required(path, "object")
        elif scenario is not None:
            params = check.object(raw_params, PARAMS[scenario], path)
    profile = _optional_object(check, body, "profile", PROFILE)
    profile_id = None
    if body.get("profileId") is not None:
        profile_id = check.value(body["profileId"], _req("int", minimum=1), ["profileId"])
        profile_id = None if profile_id is _MISSING else profile_id
    consent = _optional_object(check, body, "consent", CONSENT)
    metadata = _optional_object(check, body, "clientMetadata", METADATA)
    given = [name for name in ("profile", "profileId") if body.get(name) is not None]
    if len(given) != 1:
        check.issue("custom", [], "Provide exactly one of profile or profileId")
    if scenario == "flight" and isinstance(profile, dict):
        for name in FLIGHT_PROFILE:
            if name not in profile:
                check.issue("custom", ["profile", name], "Required for flight bookings")
    stay = params if scenario == "hotel" and params else {}
    if stay.keys() >= {"checkin", "checkout"} and stay["checkout"] <= stay["checkin"]:
        check.issue("custom", ["request", "params", "checkout"], "checkout must be after checkin")
    if check.issues or scenario is None or params is None:
        raise InvalidBody(check.issues)
    return ValidatedJob(
        scenario=scenario,
        params=params,
        profile=profile,
        profile_id=profile_id,
        consent=consent if consent is not None else _defaults(CONSENT),
        client_metadata=metadata or {},
    )
