"""Partner failures → a short sentence for people and a hint for the model."""

from __future__ import annotations

import logging

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


def partner_failure(error: PartnerError) -> ToolOutcome:
    """Describe a failed partner call; details go to the log, never secrets or raw bodies."""
    log.warning("%s call failed: %r", error.partner, error)
    name = error.partner.title()
    if isinstance(error, NotFound):
        return tool_error(
            f"{name} has no such activity.",
            hint="Use an activity_id from the latest results; do not invent ids.",
        )
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
