"""What people read about a reservation: its status, Onegent's decisions, the payment link.

Onegent's text (summaries, decision messages) is shown clipped and as data; the decisions
are put in plain words against the person's own rules ("booked 19:30, within your ±90 min").
"""

from __future__ import annotations

from typing import Any

from conversations.capabilities.onegent.draft import Draft
from conversations.cards import clip
from conversations.replies import LINK, Button, Reply
from integrations.onegent import ExecutionJob
from storage.models import Action

_STATUS = {
    "creating": "Sending it to Onegent…",
    "awaiting_identity": "Waiting for your passport details: I asked you in a private "
    "message (nothing is sent until you answer).",
    "pending": "Onegent has it; a browser is starting…",
    "running": "Onegent is booking it in a browser…",
    "paused_payment": "✅ Booked up to the payment page. I've sent you the payment link "
    "privately; the reservation is held until you pay.",
    "completed": "✅ Booked — no payment was needed. Check your e-mail for the confirmation.",
    "no_availability": "Nothing matched: no availability for this request. Try another time "
    "or day, or allow a wider time window.",
    "needs_login": "The booking site wanted a login Onegent couldn't do. Try another venue, "
    "or book it on the site yourself.",
    "captcha": "The booking site blocked the browser with a CAPTCHA. Try again later, or book "
    "it on the site yourself.",
    "error": "Onegent ran into an error, so nothing was reserved. You can ask me again.",
    "timed_out": "Onegent hasn't finished after 10 minutes, so I stopped checking. Check your "
    "e-mail for a confirmation before asking again.",
}


def outcome_text(status: str, payload: dict[str, Any]) -> str:
    if status == "not_created":
        return f"Not reserved: {payload.get('refusal') or 'Onegent refused it.'}"
    return _STATUS.get(status, f"Onegent says: {clip(status, 40)}")


def decisions(job: ExecutionJob, draft: Draft) -> list[str]:
    """Onegent's decisions in plain words, one line each (at most five)."""
    window = draft.consent.max_time_adjustment_minutes
    lines = []
    for entry in job.decision_log[-5:]:
        if entry.type == "time_adjusted":
            asked = entry.from_time or draft.params.get("time")
            got = entry.to_time
            lines.append(
                f"• No table at {asked} — booked {got}, within your ±{window} min"
                if got
                else f"• {clip(entry.message, 160)}"
            )
        elif entry.type in ("venue_switched", "provider_fallback"):
            lines.append(f"• {clip(entry.message, 160)}")
    return lines


def payment_reply(action: Action, job: ExecutionJob) -> Reply:
    """The hand-off, for the requester only (never a channel message)."""
    title = Draft.from_json(action.payload["draft"]).title
    if not job.handoff_url:
        text = (
            f"{title}\nOnegent stopped at the payment page but sent no link. Check your e-mail "
            "from the booking site to finish paying."
        )
        return Reply(text=text, private_to=action.requested_by)
    pay = Button("Complete payment", LINK, "primary", url=job.handoff_url)
    text = f"{title}\nHeld at the payment page: finish paying there (only you see this)."
    return Reply(text=text, buttons=(pay,), private_to=action.requested_by)
