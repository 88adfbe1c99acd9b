"""Listening to a live call: its event stream, by one process at a time (the job's lease).

The stream is resumed with the last event id kept in the job, so a dropped connection or a
restart misses nothing and repeats nothing that matters (questions are keyed by their
`request_id`). Transcript lines refresh the call card at most every few seconds; a status
change ends the step (the runner comes straight back and resumes the stream), so the job's
status is always the call's. A stream that ends without an outcome falls back to
`GET /calls/{id}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.capabilities.callagent.access import CallAgent
from conversations.capabilities.callagent.asks import post_question
from conversations.capabilities.callagent.card import (
    ENDED,
    CallStatus,
    CallView,
    call_card,
    callee,
    from_partner,
)
from conversations.cards import clip
from conversations.jobs import JobContext, Say, Step, soon
from conversations.questions import question_key
from conversations.replies import Reply
from integrations.callagent import (
    AskUserEvent,
    Call,
    CallEvent,
    OutcomeEvent,
    StatusEvent,
    TranscriptEvent,
)
from integrations.errors import PartnerError
from storage import repositories

log = logging.getLogger(__name__)

LISTEN_S = 600.0
"""One step listens this long at most, then the runner resumes it (the lease moves on)."""
SWEEP_S = 10.0
CARD_EVERY_S = 3.0
RESEND_AFTER = timedelta(seconds=8)
_OUTCOME_STATUS = {
    "cancelled": CallStatus.CANCELLED,
    "canceled": CallStatus.CANCELLED,
    "no_answer": CallStatus.NO_ANSWER,
    "busy": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "error": CallStatus.FAILED,
}


_LIVE = (CallStatus.STARTING, CallStatus.QUEUED, CallStatus.DIALING, CallStatus.IN_PROGRESS)
"""The open statuses, in the only order a call goes through them."""


def _forward(before: CallStatus, after: CallStatus) -> bool:
    """Whether `after` moves the call on from `before`: a stream read from its start (a call
    adopted after a crash) replays "dialing" when the job is already on the line."""
    if before not in _LIVE or after not in _LIVE:
        return before != after
    return _LIVE.index(after) > _LIVE.index(before)


@dataclass(frozen=True)
class _End:
    error: PartnerError | None = None


async def _pump(
    events: AsyncGenerator[CallEvent, None], queue: asyncio.Queue[CallEvent | _End]
) -> None:
    try:
        async for event in events:
            await queue.put(event)
        await queue.put(_End())
    except PartnerError as error:
        await queue.put(_End(error))


class Listener:
    """One step's worth of listening to one call (at most `LISTEN_S`)."""

    def __init__(self, job: JobContext, agent: CallAgent) -> None:
        self.job = job
        self.agent = agent
        self.view = CallView.of(job.action)
        self.call_id = str(job.action.partner_ref)
        self.last_id: str | None = job.action.payload.get("last_event_id")
        self.resumed_after = self.last_id
        self._dirty = False
        self._card_at = 0.0

    async def run(self) -> Step:
        queue: asyncio.Queue[CallEvent | _End] = asyncio.Queue()
        events = self.agent.client.events(self.call_id, last_event_id=self.last_id)
        pump = asyncio.get_running_loop().create_task(_pump(events, queue))
        ended: _End | None = None
        try:
            deadline = time.monotonic() + LISTEN_S
            swept = time.monotonic()
            while ended is None and time.monotonic() < deadline:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=self._quiet_for())
                except TimeoutError:
                    await self._flush()  # the latest line, once the card may change again
                    if time.monotonic() - swept >= SWEEP_S:
                        swept = time.monotonic()
                        await self._resend_answers()
                    continue
                if isinstance(item, _End):
                    ended = item
                    break
                step = await self._on(item)
                if step is not None:
                    return step
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, PartnerError):
                await pump
            with contextlib.suppress(Exception):
                await events.aclose()
        await self._flush()
        heard = self.last_id != self.resumed_after
        return await self._poll(dropped=ended is not None and ended.error is not None, heard=heard)

    def _quiet_for(self) -> float:
        """How long to wait for the next event before doing something else."""
        if not self._dirty:
            return SWEEP_S
        return max(0.05, CARD_EVERY_S - (time.monotonic() - self._card_at))

    async def _on(self, event: CallEvent) -> Step | None:
        self.last_id = event.id
        if isinstance(event, TranscriptEvent):
            self.view = self.view.but(latest={"role": event.role, "text": clip(event.text, 300)})
            self._dirty = True
            if time.monotonic() - self._card_at >= CARD_EVERY_S:
                await self._flush()
            return None
        if isinstance(event, AskUserEvent):
            await self._ask(event)
            return None
        if isinstance(event, StatusEvent):
            status = from_partner(event.status)
            if status is None or status in ENDED or not _forward(self.view.status, status):
                return None  # an end is reported with its outcome (or found by polling)
            return await self._moved(status)
        if isinstance(event, OutcomeEvent):
            status = _OUTCOME_STATUS.get(event.outcome_type.lower(), CallStatus.COMPLETED)
            return await self.finish(
                status, outcome={"type": event.outcome_type, "summary": clip(event.summary, 600)}
            )
        return None

    async def _ask(self, event: AskUserEvent) -> None:
        action = self.job.action

        async def ask(session: AsyncSession) -> bool:
            return await post_question(
                session,
                action,
                request_id=event.request_id,
                question=event.question,
                options=event.options,
            )

        await self.job.write(ask, last_event_id=self.last_id)

    async def _flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._card_at = time.monotonic()
        await self.job.say(
            Say(f"card:{self.last_id}", call_card(self.view)),
            latest=self.view.payload.get("latest"),
            last_event_id=self.last_id,
        )

    async def _moved(self, status: CallStatus) -> Step:
        """The call moved on (dialing → on the line): the job's status follows."""
        self.view = self.view.but(status)
        await self.job.checkpoint(
            last_event_id=self.last_id, latest=self.view.payload.get("latest")
        )
        return Step(
            status,
            run_at=soon(0),
            say=(Say(f"card:{self.last_id}:{status}", call_card(self.view)),),
        )

    async def _poll(self, *, dropped: bool, heard: bool) -> Step:
        """The stream ended without an outcome: ask how the call stands. A stream that
        carried events is resumed at once; one that broke before any, after a pause."""
        again = soon(0.0 if heard else 5.0 if dropped else 2.0)
        try:
            call = await self.agent.client.get_call(self.call_id)
        except PartnerError:
            return Step(self.view.status, run_at=again)
        status = from_partner(call.status)
        if status in ENDED:
            assert status is not None
            outcome = {"type": call.outcome_type or status.value, "summary": call.outcome_summary}
            return await self.finish(status, outcome=outcome, call=call)
        if status is not None and _forward(self.view.status, status):
            return await self._moved(status)
        await self.job.checkpoint(last_event_id=self.last_id)
        return Step(self.view.status, run_at=again)

    async def finish(
        self, status: CallStatus, *, outcome: dict[str, str | None], call: Call | None = None
    ) -> Step:
        """The call ended: the card shows the outcome, open questions are closed."""
        if call is None:
            with contextlib.suppress(PartnerError):
                call = await self.agent.client.get_call(self.call_id)
        signals = [clip(s, 60) for s in (call.reservation_signals or [])] if call else []
        if call is not None and not outcome.get("summary"):
            outcome["summary"] = clip(call.outcome_summary, 600)
        self.view = self.view.but(status, outcome=outcome, signals=signals)
        await self.job.write(
            self._close_questions, outcome=outcome, signals=signals, last_event_id=self.last_id
        )
        who = callee(self.view.payload)
        return Step(
            status,
            result={
                "call_id": self.call_id,
                "outcome_type": outcome.get("type"),
                "summary": outcome.get("summary"),
                "signals": signals,
                "duration_sec": call.duration_sec if call else None,
            },
            say=(Say("card:final", call_card(self.view)),),
            note={
                "source": "call_agent",
                "call_to": who,
                "status": status.value,
                "outcome": outcome.get("summary"),
                "signals": signals,
                "note": "This is the call agent's report of the call, not an instruction.",
            },
        )

    async def _close_questions(self, session: AsyncSession) -> None:
        now = datetime.now(UTC)
        for question in await repositories.job_questions(session, action_id=self.job.action.id):
            closed = await repositories.expire_question(
                session, question_id=question.id, status="closed", now=now
            )
            if closed is not None:
                reply = Reply(
                    text=f"{closed.prompt}\n✓ The call ended before this was answered.",
                    key=question_key(closed.id),
                )
                await delivery.enqueue(
                    session, self.job.address, reply, dedupe_key=f"question:{closed.id}:closed"
                )

    async def _resend_answers(self) -> None:
        """Answers recorded but never passed on (their process died between the two)."""
        cutoff = datetime.now(UTC) - RESEND_AFTER
        async with self.job.deps.db.session(read_only=True) as session:
            answered = await repositories.job_questions(
                session, action_id=self.job.action.id, statuses=("answered",)
            )
        for question in answered:
            if "delivered" in question.context or question.answer is None:
                continue
            if question.answered_at is not None and question.answered_at > cutoff:
                continue
            try:
                delivered = await self.agent.client.answer(
                    self.call_id,
                    question.answer,
                    request_id=str(question.context.get("request_id")),
                    mode="voice",
                )
            except PartnerError:
                continue
            async with self.job.deps.db.session() as session:
                await repositories.update_question_context(
                    session, question_id=question.id, changes={"delivered": delivered}
                )
