"""Pydantic models of the Onegent Execution API (``shared/specs/onegent-execution-api.md``).

Python names are snake_case; the wire names are the spec's (``profileId``,
``clientMetadata``, ``allowTimeAdjustment``, ``jobId``…) through aliases, and both spellings
are accepted when building a model (``populate_by_name``; the request models with aliases
declare a typing-only ``__init__`` so mypy accepts both too). Scenario params keep the
spec's own mix: snake_case (``restaurant_name``) plus the flight ``target*`` fields in
camelCase.

Request models forbid unknown fields and check what the spec states (required fields,
``YYYY-MM-DD`` dates, ``HH:MM`` 24h times, exactly one of ``profile``/``profileId``) so a bad
request fails before it is sent; their validation errors never quote the input (a profile
is personal data). Response models ignore unknown fields and tolerate missing optional
ones, and ``status`` stays a plain string: a status the partner adds later must not break
polling (:meth:`JobStatus.parse` gives the enum, or None).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

__all__ = [
    "PARAMS_BY_SCENARIO",
    "ActivityParams",
    "AuditEvent",
    "AuditLog",
    "ClientMetadata",
    "Consent",
    "CreatedJob",
    "Decision",
    "ExecutionJob",
    "ExecutionJobRequest",
    "FlightParams",
    "HotelParams",
    "JobLinks",
    "JobStatus",
    "Profile",
    "ProviderMetrics",
    "RequestModel",
    "ResponseModel",
    "RestaurantParams",
    "Scenario",
    "ScenarioParams",
    "ScenarioRequest",
]


class RequestModel(BaseModel):
    """Base of what we send: unknown fields rejected, input never quoted in errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)


class ResponseModel(BaseModel):
    """Base of what the partner sends: unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Scenario(StrEnum):
    RESTAURANT = "restaurant"
    HOTEL = "hotel"
    FLIGHT = "flight"
    ACTIVITY = "activity"


class JobStatus(StrEnum):
    """The documented job statuses; everything but pending/running is terminal."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED_PAYMENT = "paused_payment"
    COMPLETED = "completed"
    NO_AVAILABILITY = "no_availability"
    NEEDS_LOGIN = "needs_login"
    CAPTCHA = "captcha"
    ERROR = "error"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)

    @classmethod
    def parse(cls, value: str | None) -> JobStatus | None:
        """The enum for a status string, or None for one the spec does not list."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            return None


# --------------------------------------------------------------------------- field types

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _date_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, dt.date) else value


def _check_date(value: str) -> str:
    if not _DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a calendar date") from None
    return value


def _time_text(value: Any) -> Any:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else value


def _check_time(value: str) -> str:
    if not _TIME.fullmatch(value):
        raise ValueError("must be a 24h time as HH:MM")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address")
    return value


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


IsoDate = Annotated[str, BeforeValidator(_date_text), AfterValidator(_check_date)]
"""``YYYY-MM-DD`` on the wire; a ``datetime.date`` is accepted and written that way."""
Clock = Annotated[str, BeforeValidator(_time_text), AfterValidator(_check_time)]
"""``HH:MM`` (24h) on the wire; a ``datetime.time`` is accepted and written that way."""
Text = Annotated[str, AfterValidator(_not_blank)]
Email = Annotated[str, AfterValidator(_check_email)]
Count = Annotated[int, Field(ge=1)]
Money = Annotated[float, Field(ge=0)]

# --------------------------------------------------------------------------- scenario params

_TAG = "__scenario__"  # set by ScenarioRequest on a params dict, read by the discriminator


class _Params(RequestModel):
    @model_validator(mode="before")
    @classmethod
    def _drop_tag(cls, data: Any) -> Any:
        if isinstance(data, dict) and _TAG in data:
            return {k: v for k, v in data.items() if k != _TAG}
        return data


class RestaurantParams(_Params):
    restaurant_name: Text
    city: Text
    date: IsoDate
    time: Clock
    covers: Count
    cuisine: str | None = None
    neighborhood: str | None = None
    budget_per_person: Money | None = None


class HotelParams(_Params):
    hotel_name: Text
    city: Text
    checkin: IsoDate
    checkout: IsoDate
    adults: Count
    star_rating: float | None = Field(default=None, ge=0, le=5)
    neighborhood: str | None = None
    budget_max_per_night: Money | None = None
    room_preference: str | None = None

    @model_validator(mode="after")
    def _checkout_after_checkin(self) -> HotelParams:
        if self.checkout <= self.checkin:
            raise ValueError("checkout must be after checkin")
        return self


class FlightParams(_Params):
    origin: Text
    dest: Text
    date: IsoDate
    passengers: Count
    return_date: IsoDate | None = None
    cabin_class: str | None = None
    target_airline: str | None = Field(default=None, alias="targetAirline")
    target_price: Money | None = Field(default=None, alias="targetPrice")
    target_departure_time: Clock | None = Field(default=None, alias="targetDepartureTime")
    target_flight_number: str | None = Field(default=None, alias="targetFlightNumber")

    if TYPE_CHECKING:  # both spellings, as at runtime (the plugin would allow only one)

        def __init__(
            self,
            *,
            origin: str,
            dest: str,
            date: str | dt.date,
            passengers: int,
            return_date: str | dt.date | None = ...,
            cabin_class: str | None = ...,
            target_airline: str | None = ...,
            targetAirline: str | None = ...,
            target_price: float | None = ...,
            targetPrice: float | None = ...,
            target_departure_time: str | dt.time | None = ...,
            targetDepartureTime: str | dt.time | None = ...,
            target_flight_number: str | None = ...,
            targetFlightNumber: str | None = ...,
        ) -> None: ...

    @model_validator(mode="after")
    def _return_after_departure(self) -> FlightParams:
        if self.return_date is not None and self.return_date < self.date:
            raise ValueError("return_date must not be before date")
        return self


class ActivityParams(_Params):
    """Accepted by the partner, but not executed yet (the job ends in ``error``)."""

    event_name: Text
    city: Text
    event_date: IsoDate
    num_tickets: Count
    seat_type: str | None = None
    budget_max_per_ticket: Money | None = None


PARAMS_BY_SCENARIO: dict[Scenario, type[_Params]] = {
    Scenario.RESTAURANT: RestaurantParams,
    Scenario.HOTEL: HotelParams,
    Scenario.FLIGHT: FlightParams,
    Scenario.ACTIVITY: ActivityParams,
}


def _params_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        tag = value.get(_TAG)
        return tag if isinstance(tag, str) else None
    for scenario, model in PARAMS_BY_SCENARIO.items():
        if isinstance(value, model):
            return scenario.value
    return None


ScenarioParams = Annotated[
    Annotated[RestaurantParams, Tag(Scenario.RESTAURANT.value)]
    | Annotated[HotelParams, Tag(Scenario.HOTEL.value)]
    | Annotated[FlightParams, Tag(Scenario.FLIGHT.value)]
    | Annotated[ActivityParams, Tag(Scenario.ACTIVITY.value)],
    Discriminator(
        _params_tag,
        custom_error_type="params_scenario",
        custom_error_message="params must be one of the restaurant/hotel/flight/activity shapes",
    ),
]


class ScenarioRequest(RequestModel):
    """``request``: the scenario and its params (validated as that scenario's shape)."""

    scenario: Scenario
    params: ScenarioParams

    @model_validator(mode="before")
    @classmethod
    def _tag_params(cls, data: Any) -> Any:
        """A params dict is validated as the shape its ``scenario`` names."""
        if isinstance(data, dict) and isinstance(data.get("params"), dict):
            scenario = data.get("scenario")
            tag = scenario.value if isinstance(scenario, Scenario) else scenario
            return {**data, "params": {**data["params"], _TAG: tag}}
        return data

    @model_validator(mode="after")
    def _params_fit(self) -> ScenarioRequest:
        if not isinstance(self.params, PARAMS_BY_SCENARIO[self.scenario]):
            raise ValueError(f"params are not {self.scenario.value} params")
        return self

    @classmethod
    def of(
        cls, params: RestaurantParams | HotelParams | FlightParams | ActivityParams
    ) -> ScenarioRequest:
        """The request for ``params``, its scenario inferred from the params type."""
        scenario = next(s for s, model in PARAMS_BY_SCENARIO.items() if isinstance(params, model))
        return cls(scenario=scenario, params=params)


# --------------------------------------------------------------------------- who and how


class Profile(RequestModel):
    """An inline traveller profile: personal data, so ``repr``/``str`` show no values."""

    first_name: Text
    last_name: Text
    email: Email
    phone: Text
    dob: IsoDate | None = None
    passport_number: str | None = None
    passport_country: str | None = None
    known_traveler_number: str | None = None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name in type(self).model_fields:
            if getattr(self, name) is not None:
                yield name, "***"


class Consent(RequestModel):
    """What the autopilot may decide on its own (the spec's defaults)."""

    allow_time_adjustment: bool = Field(default=True, alias="allowTimeAdjustment")
    max_time_adjustment_minutes: int = Field(default=90, ge=0, alias="maxTimeAdjustmentMinutes")
    allow_venue_switch: bool = Field(default=True, alias="allowVenueSwitch")
    max_retries: int = Field(default=3, ge=0, alias="maxRetries")
    payment_policy: Literal["stop_before_cvc"] = Field(
        default="stop_before_cvc", alias="paymentPolicy"
    )
    allowed_providers: list[str] | None = Field(default=None, alias="allowedProviders")
    blocked_providers: list[str] = Field(default_factory=list, alias="blockedProviders")
    max_job_duration_seconds: int = Field(default=420, ge=1, alias="maxJobDurationSeconds")

    if TYPE_CHECKING:  # both spellings, as at runtime (the plugin would allow only one)

        def __init__(
            self,
            *,
            allow_time_adjustment: bool = ...,
            allowTimeAdjustment: bool = ...,
            max_time_adjustment_minutes: int = ...,
            maxTimeAdjustmentMinutes: int = ...,
            allow_venue_switch: bool = ...,
            allowVenueSwitch: bool = ...,
            max_retries: int = ...,
            maxRetries: int = ...,
            payment_policy: Literal["stop_before_cvc"] = ...,
            paymentPolicy: Literal["stop_before_cvc"] = ...,
            allowed_providers: list[str] | None = ...,
            allowedProviders: list[str] | None = ...,
            blocked_providers: list[str] = ...,
            blockedProviders: list[str] = ...,
            max_job_duration_seconds: int = ...,
            maxJobDurationSeconds: int = ...,
        ) -> None: ...


class ClientMetadata(RequestModel):
    """Who asked; ``idempotencyKey`` makes the create safe to retry (same key, same job)."""

    agent_id: str | None = Field(default=None, alias="agentId")
    user_id: str | None = Field(default=None, alias="userId")
    session_id: str | None = Field(default=None, alias="sessionId")
    idempotency_key: Text | None = Field(default=None, max_length=255, alias="idempotencyKey")

    if TYPE_CHECKING:  # both spellings, as at runtime (the plugin would allow only one)

        def __init__(
            self,
            *,
            agent_id: str | None = ...,
            agentId: str | None = ...,
            user_id: str | None = ...,
            userId: str | None = ...,
            session_id: str | None = ...,
            sessionId: str | None = ...,
            idempotency_key: str | None = ...,
            idempotencyKey: str | None = ...,
        ) -> None: ...


_FLIGHT_PROFILE = ("dob", "passport_number", "passport_country")


class ExecutionJobRequest(RequestModel):
    """``POST /execution-jobs``: exactly one of ``profile`` (inline) or ``profileId``.

    A flight with an inline profile also needs ``dob``, ``passport_number`` and
    ``passport_country`` (the spec: "for flights also provide").
    """

    request: ScenarioRequest
    profile: Profile | None = None
    profile_id: int | None = Field(default=None, ge=1, alias="profileId")
    consent: Consent | None = None
    client_metadata: ClientMetadata | None = Field(default=None, alias="clientMetadata")

    if TYPE_CHECKING:  # both spellings, as at runtime (the plugin would allow only one)

        def __init__(
            self,
            *,
            request: ScenarioRequest,
            profile: Profile | None = ...,
            profile_id: int | None = ...,
            profileId: int | None = ...,
            consent: Consent | None = ...,
            client_metadata: ClientMetadata | None = ...,
            clientMetadata: ClientMetadata | None = ...,
        ) -> None: ...

    @model_validator(mode="after")
    def _one_profile(self) -> ExecutionJobRequest:
        if (self.profile is None) == (self.profile_id is None):
            raise ValueError("give exactly one of profile or profileId")
        if self.request.scenario is Scenario.FLIGHT and self.profile is not None:
            missing = [name for name in _FLIGHT_PROFILE if not getattr(self.profile, name)]
            if missing:
                raise ValueError(f"a flight profile also needs {', '.join(missing)}")
        return self

    @property
    def idempotency_key(self) -> str | None:
        return self.client_metadata.idempotency_key if self.client_metadata else None

    def body(self) -> bytes:
        """The JSON sent (wire names, unset optionals left out): the same bytes each retry."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


# --------------------------------------------------------------------------- responses


class JobLinks(ResponseModel):
    self_: str | None = Field(default=None, alias="self")
    audit: str | None = None


class CreatedJob(ResponseModel):
    """``202`` of ``POST /execution-jobs``; the executor runs on asynchronously."""

    job_id: str = Field(alias="jobId")
    status: str
    scenario: str | None = None
    organization_name: str | None = Field(default=None, alias="organizationName")
    links: JobLinks | None = Field(default=None, alias="_links")

    @property
    def job_status(self) -> JobStatus | None:
        return JobStatus.parse(self.status)


class Decision(ResponseModel):
    """One ``decisionLog`` entry; fields beyond the typed ones stay in :attr:`extra`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str
    timestamp: dt.datetime | None = None
    message: str | None = None
    from_time: str | None = Field(default=None, alias="fromTime")
    to_time: str | None = Field(default=None, alias="toTime")
    provider_id: str | None = Field(default=None, alias="providerId")

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExecutionJob(ResponseModel):
    """``GET /execution-jobs/{jobId}``. ``handoff_url`` is set for ``paused_payment``
    (the user completes payment there); it may be missing, as may unknown ``status``es."""

    job_id: str = Field(alias="jobId")
    status: str
    handoff_url: str | None = Field(default=None, alias="handoffUrl")
    session_url: str | None = Field(default=None, alias="sessionUrl")
    summary: str | None = None
    decision_log: Annotated[list[Decision], BeforeValidator(_none_as_empty)] = Field(
        default_factory=list, alias="decisionLog"
    )
    attempt_count: int | None = Field(default=None, alias="attemptCount")
    used_fallback: bool | None = Field(default=None, alias="usedFallback")
    created_at: dt.datetime | None = Field(default=None, alias="createdAt")
    updated_at: dt.datetime | None = Field(default=None, alias="updatedAt")
    completed_at: dt.datetime | None = Field(default=None, alias="completedAt")
    error: str | dict[str, Any] | None = None

    @property
    def job_status(self) -> JobStatus | None:
        return JobStatus.parse(self.status)

    @property
    def terminal(self) -> bool:
        """A documented terminal status (an unknown status is not: keep polling)."""
        known = self.job_status
        return known is not None and known.terminal

    @property
    def error_message(self) -> str | None:
        """``error`` as text, whether the partner sent a string or an object."""
        if isinstance(self.error, dict):
            message = self.error.get("message") or self.error.get("code")
            return str(message) if message is not None else None
        return self.error


class AuditEvent(ResponseModel):
    """One audit event; the terminal one may lack ``jobId``/``stepIndex``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str
    timestamp: dt.datetime | None = None
    job_id: str | None = Field(default=None, alias="jobId")
    step_index: int | None = Field(default=None, alias="stepIndex")
    message: str | None = None
    from_time: str | None = Field(default=None, alias="fromTime")
    to_time: str | None = Field(default=None, alias="toTime")
    handoff_url: str | None = Field(default=None, alias="handoffUrl")
    provider_id: str | None = Field(default=None, alias="providerId")

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class AuditLog(ResponseModel):
    """``GET /execution-jobs/{jobId}/audit``: at most ``limit`` events, oldest first."""

    job_id: str = Field(alias="jobId")
    count: int
    events: Annotated[list[AuditEvent], BeforeValidator(_none_as_empty)] = Field(
        default_factory=list
    )


class ProviderMetrics(ResponseModel):
    """``GET /metrics/providers/{providerId}``; no data is zeros, not a 404."""

    provider_id: str = Field(alias="providerId")
    success_rate: float = Field(alias="successRate")
    total_attempts: int = Field(alias="totalAttempts")
    accepted_count: int = Field(default=0, alias="acceptedCount")
    manual_override_count: int = Field(default=0, alias="manualOverrideCount")
    failed_count: int = Field(default=0, alias="failedCount")
    last_event_at: dt.datetime | None = Field(default=None, alias="lastEventAt")
    time_range_days: int = Field(alias="timeRangeDays")

    def is_evidence(self, min_attempts: int = 5) -> bool:
        """Whether ``success_rate`` rests on enough attempts (the spec: gate on
        ``totalAttempts > N``, N=5 a reasonable floor)."""
        return self.total_attempts > min_attempts
