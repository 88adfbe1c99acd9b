"""The Events matching Partner API's requests and responses as pydantic models.

Requests carry the spec's field limits, so a bad value is refused here before a request is
built; responses tolerate fields the spec does not (yet) name (``extra="allow"``), since the
partner may add some at any time.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Attendee",
    "AttendeeEvent",
    "AttendeeIdentity",
    "AttendeeInput",
    "AttendeeMatches",
    "AuthInfo",
    "Event",
    "EventContext",
    "EventContextUpdate",
    "EventCreate",
    "EventMatches",
    "GoalMatch",
    "IdMapping",
    "IdentityDecision",
    "IdentityHistory",
    "Match",
    "MergeRequest",
    "MergeResult",
    "Page",
    "PartnerRef",
    "Resolution",
    "ReviewDecision",
    "ReviewItem",
    "Run",
    "RunKind",
    "Session",
    "SessionCreate",
    "SubScores",
]

RunKind = Literal["import", "enrichment", "match"]
ReviewDecision = Literal["accept", "reject", "distinct"]
T = TypeVar("T")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    correlation_id: str | None = None


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def body(self) -> bytes:
        """The JSON bytes sent (unset optional fields left out): the same on every retry."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True)).encode()


class Page(_Response, Generic[T]):
    """One page of a list: follow ``next_cursor`` until it is None."""

    items: list[T]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- auth, ids


class AuthInfo(_Response):
    org_id: str
    principal_type: str
    service_account_user_id: str | None = None
    scopes: list[str] = Field(default_factory=list)

    @property
    def can_write(self) -> bool:
        return "partner:write" in self.scopes


class IdMapping(_Response):
    kind: str
    partner_id: str
    mapped: bool


# --------------------------------------------------------------------------- events


class EventCreate(_Request):
    event_id: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    start_date: date | None = None
    end_date: date | None = None
    timezone: str | None = Field(default=None, max_length=128)
    visibility: str | None = Field(default=None, max_length=32)
    url_slug: str | None = Field(default=None, max_length=128)


class Event(_Response):
    event_id: str
    title: str
    description: str | None = None
    event_details: str | None = None
    objectives: str | None = None
    welcome_instructions: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    timezone: str | None = None
    visibility: str | None = None
    url_slug: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class EventContextUpdate(_Request):
    event_details: str | None = Field(default=None, max_length=4000)
    objectives: str | None = Field(default=None, max_length=4000)
    welcome_instructions: str | None = Field(default=None, max_length=4000)


class ContextFields(_Item):
    event_details: str | None = None
    objectives: str | None = None
    welcome_instructions: str | None = None


class EventContext(_Response):
    event_id: str
    context: ContextFields


# --------------------------------------------------------------------------- sessions


class SessionCreate(_Request):
    session_id: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    start_timestamp: str | None = None
    end_timestamp: str | None = None


class Session(_Response):
    session_id: str
    event_id: str
    title: str
    description: str | None = None
    start_timestamp: str | None = None
    end_timestamp: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


# --------------------------------------------------------------------------- attendees


class AttendeeInput(_Request):
    attendee_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=240)
    email: str | None = Field(default=None, max_length=320)
    linkedin_url: str | None = Field(default=None, max_length=2048)
    title: str | None = Field(default=None, max_length=512)
    company: str | None = Field(default=None, max_length=512)
    raw_data: dict[str, Any] | None = None


class AttendeeEvent(_Item):
    role_at_event: str | None = None
    visibility: str | None = None
    goal: str | None = None
    needs: str | None = None
    offers: str | None = None
    onboarded_at: str | None = None
    joined_at: str | None = None


class AttendeeIdentity(_Item):
    review_required: bool = False
    open_review_count: int = 0


class Attendee(_Item):
    attendee_id: str
    event_id: str
    display_name: str | None = None
    title: str | None = None
    company: str | None = None
    event: AttendeeEvent = Field(default_factory=AttendeeEvent)
    identity: AttendeeIdentity = Field(default_factory=AttendeeIdentity)


class IdentityDecision(_Item):
    decision: str
    created_at: str | None = None
    reason: str | None = None


class IdentityHistory(Page[IdentityDecision]):
    event_id: str
    attendee_id: str


# --------------------------------------------------------------------------- runs


class Run(_Response):
    run_id: str
    kind: RunKind
    status: str
    event_id: str | None = None
    idempotency_key: str | None = None
    progress: dict[str, Any] = Field(default_factory=dict)
    error: Any = None
    snapshot_metadata: dict[str, Any] = Field(default_factory=dict)
    version_metadata: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    terminal_at: str | None = None

    @property
    def terminal(self) -> bool:
        """Done, one way or the other (``terminal_at`` is set exactly then)."""
        return self.terminal_at is not None or self.status not in {"queued", "running"}


# --------------------------------------------------------------------------- matches


class SubScores(_Item):
    goal_complementarity: float | None = None
    goal_needs_to_offers: float | None = None
    goal_offers_to_needs: float | None = None
    value_alignment: float | None = None
    general_similarity: float | None = None
    score_a_to_b: float | None = None
    score_b_to_a: float | None = None


class GoalMatch(_Item):
    score: float | None = None
    direction: str | None = None


class Match(_Response):
    match_id: str | None = None
    run_id: str | None = None
    event_id: str | None = None
    principal_attendee_id: str
    target_attendee_id: str
    final_score: float
    sub_scores: SubScores = Field(default_factory=SubScores)
    best_goal_match: GoalMatch | None = None
    driving_goal_pair: GoalMatch | None = None
    intent_strength: dict[str, float] | None = None
    input_hash: str | None = None
    algorithm_version: str | None = None
    policy_version: str | None = None
    context_snapshot_id: str | None = None
    computed_at: str | None = None


class AttendeeMatches(Page[Match]):
    event_id: str
    attendee_id: str
    run_id: str | None = None


class EventMatches(Page[Match]):
    event_id: str
    run_id: str | None = None


# --------------------------------------------------------------------------- review queue


class ReviewItem(_Item):
    review_id: str
    kind: str | None = None
    partner_id: str | None = None
    event_id: str | None = None
    created_at: str | None = None


class Resolution(_Response):
    review_id: str
    kind: str | None = None
    partner_id: str | None = None
    decision: ReviewDecision
    logged: bool
    minted: Any = None


class PartnerRef(_Item):
    kind: str
    partner_id: str


class MergeRequest(_Request):
    source_kind: str = Field(min_length=1)
    source_partner_id: str = Field(min_length=1)
    target_kind: str = Field(min_length=1)
    target_partner_id: str = Field(min_length=1)
    reason: str | None = None


class MergeResult(_Response):
    review_id: str
    source: PartnerRef
    target: PartnerRef
    merged: bool
    superseded_anchors: Any = None
    rewritten_anchors: Any = None
    deleted_computations: Any = None
