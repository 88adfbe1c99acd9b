"""The deterministic script every AI Call Agent sandbox call plays.

A call walks ``queued`` (queue mode only) → ``dialing`` → ``in_progress`` → a final status,
emitting ``status`` / ``transcript`` / ``ask_user`` / ``outcome`` events (ids 1, 2, 3… per
call) that ``GET /calls/{id}/events`` streams. The script is deterministic so demos and
tests can rely on it: the venue greets, the agent introduces the task from the brief, asks
the user its questions (each waits for ``POST /calls/{id}/answer`` up to
``answer_timeout_s``) and ends with an outcome (plus a booking for a reservation).
It lives apart from ``callagent_state`` so the state holds data and the story is read here.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import TYPE_CHECKING, Any

from integrations.callagent.models import BookingStatus
from integrations.sandbox.callagent_config import (
    GENERAL_QUESTION,
    RESERVATION_QUESTION,
    SandboxQuestion,
)
from integrations.sandbox.callagent_records import PendingQuestion, SandboxCall

if TYPE_CHECKING:
    from integrations.sandbox.callagent_state import CallAgentSandboxState

__all__ = ["is_reservation", "run_call"]

_TIME = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")


def _venue(call: SandboxCall) -> str | None:
    named = (call.body.parsed_slots or {}).get("venue_name")
    if isinstance(named, str) and named.strip():
        return named.strip()
    match = re.search(r"\b(?:at|from|to call)\s+((?:[A-Z][\w'&.-]*\s?){1,4})", call.body.brief)
    return match.group(1).strip() if match else None


def _guests(call: SandboxCall) -> int | None:
    slots = call.body.parsed_slots or {}
    for name in ("guests", "party_size", "people"):
        if isinstance(slots.get(name), int):
            return int(slots[name])
    match = re.search(r"\bfor (\d{1,2})\b", call.body.brief)
    return int(match.group(1)) if match else None


def _holder(call: SandboxCall) -> str | None:
    slots = call.body.parsed_slots or {}
    for name in ("name", "booking_holder_name", "guest_name"):
        if isinstance(slots.get(name), str) and slots[name].strip():
            return str(slots[name]).strip()
    match = re.search(r"\bunder (?:the name )?([A-Z][\w'-]+)", call.body.brief)
    return match.group(1) if match else None


def is_reservation(call: SandboxCall) -> bool:
    words = re.search(r"\b(table|reserv\w*|book\w*)\b", call.body.brief, re.IGNORECASE)
    return words is not None or call.body.kind == "restaurant_booking"


def _task(brief: str) -> str:
    text = " ".join(brief.split()).rstrip(".!")
    text = text[:1].lower() + text[1:]
    return text if len(text) <= 160 else text[:157] + "…"


async def _ask(state: CallAgentSandboxState, call: SandboxCall, q: SandboxQuestion) -> str | None:
    """One ``ask_user``: the pending answer exists before the event and the webhook go out."""
    future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    pending = PendingQuestion(f"req_{secrets.token_hex(6)}", q.question, q.options, future)
    call.pending.append(pending)
    data: dict[str, Any] = {"request_id": pending.request_id, "question": q.question}
    if q.options:
        data["options"] = list(q.options)
    state.say(call, "agent", "One moment please, let me check with my client.")
    state.emit(call, "ask_user", data)
    state.notify_webhook(call, pending)
    try:
        async with asyncio.timeout(state.config.answer_timeout_s):
            answer, mode = await future
    except TimeoutError:
        state.say(call, "agent", "I'll have to confirm that later — let's go on for now.")
        return None
    finally:
        call.pending.remove(pending)
    if mode == "voice":  # "context" answers guide the agent silently
        state.say(call, "agent", answer)
    await asyncio.sleep(state.config.turn_s)
    state.say(call, "callee", "Perfect, noted.")
    return answer


async def run_call(state: CallAgentSandboxState, call: SandboxCall) -> None:
    """The scripted call (one task per call; cancelled by ``cancel`` or shutdown)."""

    async def turn() -> None:
        await asyncio.sleep(state.config.turn_s)

    if call.status == "queued":  # the drainer dials within the customer's cap
        await asyncio.sleep(state.config.queue_s)
        dialing = frozenset({"dialing", "in_progress"})
        while state.active_calls(call.key, dialing) >= state.cap_of(call.key):
            await state.freed.wait()
        state.dial(call)
    await asyncio.sleep(state.config.dial_s)
    brief, venue = call.body.brief, _venue(call)
    if state.config.outcome == "no_answer":
        state.finish(call, "no_answer", "no_answer", f"Nobody answered at {venue or 'the number'}.")
        return
    call.started_at = state.now()
    state.set_status(call, "in_progress")
    await turn()
    greeting = f"Good evening, {venue}, how can I help?" if venue else "Hello, how can I help?"
    state.say(call, "callee", greeting)
    await turn()
    state.say(
        call,
        "agent",
        f"Hi, I'm calling on behalf of {_holder(call) or 'a client'} to {_task(brief)}.",
    )
    if state.config.outcome == "failed":
        await turn()
        state.say(call, "callee", "I'm sorry, we can't help with that today.")
        state.finish(
            call, "failed", "failed", f"{venue or 'The venue'} could not help with the request."
        )
        return
    reservation = is_reservation(call)
    questions = state.config.questions
    if questions is None:
        questions = (RESERVATION_QUESTION if reservation else GENERAL_QUESTION,)
    answers = []
    for question in questions:
        await turn()
        answers.append(await _ask(state, call, question))
    await turn()
    state.say(call, "agent", "Thank you very much, goodbye!")
    if not reservation:
        state.finish(call, "completed", "task_completed", f"Done: {_task(brief)}.")
        return
    choice = answers[0] if answers else None
    slots = call.body.parsed_slots or {}
    when = choice if choice is not None else str(slots.get("time") or brief)
    clock = _TIME.search(when)
    guests = _guests(call)
    signals = [f"party_size:{guests}"] if guests else []
    signals += [f"time:{clock.group(0)}"] if clock else []
    table = f"Table for {guests}" if guests else "A table"
    place = venue or "the restaurant"
    booking_date = None
    if clock:
        hour, minute = (int(part) for part in clock.group(0).split(":"))
        booking_date = state.now().replace(
            hour=hour, minute=minute, second=0, microsecond=0, tzinfo=None
        )
    fields = {
        "venue_name": venue,
        "booking_date": booking_date,
        "guests": guests,
        "booking_holder_name": _holder(call),
        "details": choice,
    }
    if answers and choice is None:
        summary = f"{table} held at {place}; the time still needs your confirmation."
        state.add_booking(call, BookingStatus.PENDING_USER_CONFIRM, **fields)
        state.finish(
            call, "completed", "reservation_pending", summary, ("reservation_pending", *signals)
        )
        return
    detail = f", {choice}" if choice else ""
    summary = f"{table} booked at {place}{detail}, under the name given."
    state.add_booking(call, BookingStatus.ACTIVE, **fields)
    state.finish(
        call, "completed", "reservation_confirmed", summary, ("reservation_confirmed", *signals)
    )
