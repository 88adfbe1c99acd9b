"""The live call card: one message per call, edited in place from dialing to the outcome.

Pure functions of the job's row. Everything the call says (transcript lines, the outcome)
is shown as quoted data, clipped, never as instructions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from conversations.capabilities.callagent.phone import human
from conversations.cards import clip
from conversations.jobs import job_key
from conversations.replies import Button, Reply
from storage.models import Action


class CallStatus(StrEnum):
    STARTING = "starting"
    """Approved; the call agent has not (knowingly) heard of it yet."""
    QUEUED = "queued"
    DIALING = "dialing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    CANCELLED = "cancelled"
    NOT_STARTED = "not_started"
    """The call agent refused to start it (credits, maintenance, a bad number…)."""


OPEN = frozenset(
    {CallStatus.STARTING, CallStatus.QUEUED, CallStatus.DIALING, CallStatus.IN_PROGRESS}
)
ENDED = frozenset(
    {CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.CANCELLED}
)

_PARTNER_STATUSES = {
    "queued": CallStatus.QUEUED,
    "scheduled": CallStatus.QUEUED,
    "pending": CallStatus.QUEUED,
    "dialing": CallStatus.DIALING,
    "ringing": CallStatus.DIALING,
    "initiated": CallStatus.DIALING,
    "in_progress": CallStatus.IN_PROGRESS,
    "in-progress": CallStatus.IN_PROGRESS,
    "answered": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "done": CallStatus.COMPLETED,
    "failed": CallStatus.FAILED,
    "error": CallStatus.FAILED,
    "no_answer": CallStatus.NO_ANSWER,
    "no-answer": CallStatus.NO_ANSWER,
    "busy": CallStatus.NO_ANSWER,
    "cancelled": CallStatus.CANCELLED,
    "canceled": CallStatus.CANCELLED,
}


def from_partner(status: str) -> CallStatus | None:
    """The call agent's status word as ours (None: a word we don't know, ignored)."""
    return _PARTNER_STATUSES.get(status.strip().lower())


def callee(payload: dict[str, Any]) -> str:
    return str(payload.get("callee") or human(str(payload["body"]["target_phone"])))


def _signal(raw: str) -> str:
    """`party_size:4` → `party size: 4`."""
    name, colon, value = raw.partition(":")
    return name.replace("_", " ") + (f": {value}" if colon else "")


def _signals(signals: list[Any]) -> str:
    words = [clip(_signal(str(s)), 60) or "" for s in signals[:8]]
    return " · ".join(w for w in words if w)


@dataclass(frozen=True)
class CallView:
    """What the card shows: the job's row as it is, or as a step is making it."""

    action_id: str
    requested_by: str
    status: CallStatus
    payload: dict[str, Any]
    call_id: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, action: Action) -> CallView:
        return cls(
            action.id,
            action.requested_by,
            CallStatus(action.status),
            dict(action.payload),
            action.partner_ref,
            action.error,
        )

    def but(self, status: CallStatus | None = None, **payload: Any) -> CallView:
        return replace(self, status=status or self.status, payload={**self.payload, **payload})


def _state_line(view: CallView) -> str:
    payload = view.payload
    status = view.status
    if status is CallStatus.STARTING:
        return "Placing the call…"
    if status is CallStatus.QUEUED:
        position = payload.get("position")
        return "Waiting in the call agent's queue" + (
            f" (position {int(position) + 1})…" if isinstance(position, int) else "…"
        )
    if status is CallStatus.DIALING:
        return "Dialing…"
    if status is CallStatus.IN_PROGRESS:
        latest = payload.get("latest")
        line = "On the line."
        if isinstance(latest, dict) and latest.get("text"):
            who = "Agent" if latest.get("role") in ("agent", "assistant", "bot") else "Them"
            line += f"\n> {who}: “{clip(str(latest['text']), 200)}”"
        return line
    if status is CallStatus.NOT_STARTED:
        return f"Not placed: {payload.get('refusal') or 'the call agent refused it'}"
    ending = {
        CallStatus.COMPLETED: "Call finished.",
        CallStatus.FAILED: "The call failed.",
        CallStatus.NO_ANSWER: "Nobody answered.",
        CallStatus.CANCELLED: "Call cancelled.",
    }[status]
    outcome = payload.get("outcome") or {}
    lines = [ending]
    if outcome.get("summary"):
        lines.append(f"Outcome: {clip(str(outcome['summary']), 500)}")
    if payload.get("signals"):
        lines.append(f"Signals: {_signals(list(payload['signals']))}")
    return "\n".join(lines)


def call_card(view: CallView) -> Reply:
    """The card as the call stands now, under the job's key (so each version edits it)."""
    payload = view.payload
    number = human(str(payload["body"]["target_phone"]))
    who = callee(payload)
    title = f"📞 Call to {who}" + (f" · {number}" if who != number else "")
    buttons: tuple[Button, ...] = ()
    if view.status in OPEN:
        buttons = (Button("Cancel call", f"call.cancel:{view.action_id}", "danger"),)
    elif view.status in ENDED and view.call_id:
        buttons = (Button("Transcript", f"call.transcript:{view.action_id}"),)
    return Reply(
        text=f"{title}\n{_state_line(view)}",
        buttons=buttons,
        key=job_key(view.action_id),
        mention=view.requested_by,
    )
