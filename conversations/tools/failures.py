"""Partner failures → a short sentence for people and a hint for the model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from conversations.cards import clip
from conversations.tools.base import ToolOutcome, tool_error
from integrations.errors import (
    NotFound,
    PartnerError,
    PartnerHTTPError,
    PartnerTimeout,
    PartnerUnavailable,
    PaymentRequired,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Missing:
    """How a partner's 404 is said: what was not found, and what the model should do."""

    thing: str
    hint: str


#: how each partner is named to people
PARTNER_NAMES = {
    "outgoing": "Outgoing",
    "call_agent": "The call agent",
    "onegent": "Onegent",
    "events": "Events",
    "voyagent": "Voyagent",
}
#: what a partner's 404 usually means; a caller that knows better passes `missing=`
MISSING = {
    "outgoing": Missing(
        "activity", "Use an activity_id from the latest results; do not invent ids."
    ),
    "call_agent": Missing("call", "Use a call from this conversation; do not invent ids."),
    "onegent": Missing("job", "Use a job from this conversation; do not invent ids."),
    "events": Missing("event", "Use an event of this chat; do not invent ids."),
    "voyagent": Missing("enquiry", "Use an enquiry from this conversation; do not invent ids."),
}
_UNKNOWN = Missing("record", "Use only ids from this conversation; do not invent them.")


def partner_failure(error: PartnerError, *, missing: str | Missing | None = None) -> ToolOutcome:
    """Describe a failed partner call; details go to the log, never secrets or raw bodies.

    `missing` words a 404 ("activity", "call", or a `Missing` with its own hint); without it
    the partner's usual meaning of a 404 (`MISSING`) is used, so a call is never an activity.
    """
    log.warning("%s call failed: %r", error.partner, error)
    name = PARTNER_NAMES.get(error.partner) or error.partner.replace("_", " ").title()
    if isinstance(error, NotFound):
        if isinstance(missing, str):
            missing = Missing(missing, _UNKNOWN.hint)
        said = missing or MISSING.get(error.partner, _UNKNOWN)
        return tool_error(f"{name} has no such {said.thing}.", hint=said.hint)
    if isinstance(error, Unauthorized):
        return tool_error(
            f"{name} refused this workspace's key ({error.code or 'unauthorized'}). "
            "A workspace admin needs to connect a valid key.",
            hint="Do not retry; tell the user.",
        )
    if isinstance(error, ValidationFailed):
        return tool_error(
            f"{name} did not accept the request: {clip(error.message, 200)}",
            hint="Fix the arguments (for example a shorter, plainer prompt) and try once more.",
        )
    if isinstance(error, PaymentRequired):
        return tool_error(f"{name} needs a payment method before this can go ahead.")
    if isinstance(error, RateLimited):
        return tool_error(
            f"{name} is busy right now; try again in a minute.", hint="Do not retry now."
        )
    if isinstance(error, PartnerTimeout):
        return tool_error(f"{name} took too long to answer.", hint="Do not retry now.")
    if isinstance(error, PartnerUnavailable):
        return tool_error(f"{name} cannot be reached right now.", hint="Do not retry now.")
    if isinstance(error, PartnerHTTPError):
        return tool_error(f"{name} had a problem ({error.status}).", hint="Do not retry now.")
    return tool_error(f"{name} sent an answer we could not read.", hint="Do not retry now.")
