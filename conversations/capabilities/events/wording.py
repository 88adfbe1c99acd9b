"""What people read when the Events partner says no: one short sentence per error code."""

from __future__ import annotations

from integrations.errors import PartnerError, PartnerHTTPError
from integrations.events.wire import (
    EventsRateLimited,
    EventsServerError,
    EventsUnauthorized,
    EventsUnavailable,
    InsufficientScope,
    InvalidField,
)

_BY_CODE = {
    "INVALID_JSON": "The Events service couldn't read my request. Nothing was changed.",
    "INVALID_PARTNER_KIND": "The Events service didn't recognise that kind of record.",
    "INVALID_PARTNER_ID": "The Events service refused an id I sent. Nothing was changed.",
    "INVALID_TITLE": "The event title was refused: it must be 1–200 characters.",
    "INVALID_DESCRIPTION": "The event description was refused: at most 4,000 characters.",
    "INVALID_START_DATE": "The start date was refused: give it as a day, e.g. 2026-12-04.",
    "INVALID_END_DATE": "The end date was refused: give it as a day, e.g. 2026-12-05.",
    "INVALID_TIMEZONE": "The time zone was refused by the Events service.",
    "INVALID_VISIBILITY": "The event's visibility was refused by the Events service.",
    "INVALID_URL_SLUG": "The event's link name was refused by the Events service.",
    "INVALID_CONTEXT": "The event's description for matching was refused (at most 4,000 "
    "characters each).",
    "INVALID_START_TIMESTAMP": "A session's start time was refused by the Events service.",
    "INVALID_END_TIMESTAMP": "A session's end time was refused by the Events service.",
    "INVALID_IDEMPOTENCY_KEY": "The Events service refused my request key. Nothing was "
    "changed; try again.",
    "INVALID_ATTENDEES": "The list of people to add was refused by the Events service.",
    "INVALID_ATTENDEE": "One of the people to add was refused by the Events service.",
    "DUPLICATE_ATTENDEE_ID": "The same person was listed twice, so nobody was added.",
    "INVALID_ATTENDEE_NAME": "A member's name was refused (1–240 characters), so nobody was added.",
    "INVALID_ATTENDEE_EMAIL": "A member's e-mail address was refused, so nobody was added.",
    "INVALID_ATTENDEE_LINKEDIN_URL": "A member's LinkedIn link was refused, so nobody was added.",
    "INVALID_ATTENDEE_TITLE": "A member's job title was refused, so nobody was added.",
    "INVALID_ATTENDEE_COMPANY": "A member's company was refused, so nobody was added.",
    "INVALID_ATTENDEE_RAW_DATA": "A member's extra details were refused, so nobody was added.",
    "INVALID_WEBHOOK_URL": "The Events service refused my callback address. Nothing was started.",
    "INVALID_RUN_KIND": "The Events service didn't recognise that kind of run.",
    "INVALID_PROGRESS": "The Events service refused the run's progress details.",
    "INVALID_SNAPSHOT_METADATA": "The Events service refused the run's snapshot details.",
    "INVALID_VERSION_METADATA": "The Events service refused the run's version details.",
    "INVALID_RUN_ID": "The Events service didn't recognise that run.",
    "INVALID_REVIEW_ID": "The Events service didn't recognise that review.",
    "INVALID_REVIEW_DECISION": "The Events service refused that decision on the review.",
    "INVALID_LIMIT": "The Events service refused the page size I asked for.",
    "INVALID_CURSOR": "The Events service refused the page I asked for; ask me again.",
    "REVIEW_SOURCE_MISMATCH": "That merge doesn't match the review: nothing was merged.",
    "MERGE_REJECTED": "The Events service refused to merge these two: nothing was merged.",
    "UNAUTHORIZED": "The Events service refused this workspace's key. An admin can bind a "
    "new Events key.",
    "INSUFFICIENT_SCOPE": "This workspace's Events key is read-only, so I can't change "
    "anything there. An admin can bind a key with write access.",
    "EVENT_NOT_FOUND": "The Events service doesn't know this chat's event any more.",
    "SESSION_NOT_FOUND": "The Events service doesn't know that session.",
    "ATTENDEE_NOT_FOUND": "You're not among the event's attendees yet: the organiser can "
    "say “add everyone here”.",
    "RUN_NOT_FOUND": "The Events service lost track of that run; the organiser can say "
    "“run matching” again.",
    "MATCH_RUN_NOT_FOUND": "There are no matches yet: the organiser can say “run matching”.",
    "MATCH_NOT_FOUND": "There is no match for that pair in the latest run.",
    "REVIEW_NOT_FOUND": "That review is no longer open: it was already resolved.",
    "PARTNER_ID_NOT_FOUND": "The Events service doesn't know one of these people any more.",
    "PARTNER_ID_CONFLICT": "The Events service already has an event with this id.",
    "IDEMPOTENCY_KEY_CONFLICT": "The Events service saw this request before with different "
    "details, so nothing new was started. Ask me again.",
    "PAYLOAD_TOO_LARGE": "The list of people was too large for the Events service, even in "
    "parts. Nothing more was added.",
    "RATE_LIMITED": "The Events service is busy right now; try again in a minute.",
}

UNREACHABLE = "I couldn't reach the Events service just now; try again in a minute."


def events_failure(error: PartnerError) -> str:
    """One clear sentence for any failure of the Events partner (its own text is never shown:
    it is not ours to pass on, and may say too much)."""
    if isinstance(error, PartnerHTTPError) and error.code in _BY_CODE:
        return _BY_CODE[error.code]
    if isinstance(error, InsufficientScope):
        return _BY_CODE["INSUFFICIENT_SCOPE"]
    if isinstance(error, EventsUnauthorized):
        return _BY_CODE["UNAUTHORIZED"]
    if isinstance(error, EventsRateLimited):
        return _BY_CODE["RATE_LIMITED"]
    if isinstance(error, InvalidField):
        return "The Events service refused one of the details I sent. Nothing was changed."
    if isinstance(error, (EventsServerError, EventsUnavailable)) or not isinstance(
        error, PartnerHTTPError
    ):
        return UNREACHABLE
    return "The Events service refused that request. Nothing was changed."


READ_ONLY = _BY_CODE["INSUFFICIENT_SCOPE"]
NO_EVENT = "This chat isn't an event yet: say “make this an event” first."
ONLY_ORGANISER = "Only the event's organiser (who created it) or a workspace admin can do that."
