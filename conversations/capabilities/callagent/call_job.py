"""An approved phone call as a job: placed once, listened to live, seen through to its outcome.

Granting the approval records this job (`start.py`). Its first step places the call with
`ask_user_mode: "stream"`; `POST /calls` has no idempotency key, so the moment it may leave
is kept first, and a step re-run after a crash looks for the call among the account's
recent calls before dialing again. Then the job listens (`listening.py`) until the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from conversations.capabilities.callagent.access import CallAgent
from conversations.capabilities.callagent.card import (
    ENDED,
    OPEN,
    CallStatus,
    CallView,
    call_card,
    callee,
    from_partner,
)
from conversations.capabilities.callagent.listening import LISTEN_S, Listener
from conversations.capabilities.callagent.phone import human
from conversations.cards import clip
from conversations.jobs import JobContext, JobKind, Say, Step, soon
from integrations.callagent import (
    Call,
    DialFailed,
    Maintenance,
    StartCallBody,
)
from integrations.errors import (
    BadRequest,
    Conflict,
    PartnerError,
    PartnerHTTPError,
    PaymentRequired,
    ValidationFailed,
)
from storage.models import Action

S = CallStatus
MAX_START_ATTEMPTS = 5
ADOPT_WINDOW = timedelta(minutes=2)


def refusal(error: PartnerError) -> str:
    """Why the call agent would not place the call, for people."""
    if isinstance(error, Maintenance):
        back = f"; it should be back around {error.resume_at:%H:%M} UTC" if error.resume_at else ""
        return f"the call service is down for maintenance ({clip(error.message, 200)}){back}"
    if isinstance(error, PaymentRequired):
        return "the call agent account is out of credits; an admin can top it up"
    if isinstance(error, Conflict):
        return (
            "another call on this account is still going (it allows one at a time); "
            "try again when it ends"
        )
    if isinstance(error, DialFailed):
        return "the number couldn't be dialled (busy or unreachable); nothing was charged"
    if isinstance(error, ValidationFailed | BadRequest):
        return f"the call agent refused the number or the brief: {clip(error.message, 200)}"
    if isinstance(error, PartnerHTTPError):
        return f"the call agent refused the call: {clip(error.message, 200)}"
    return "the call agent couldn't be reached"


class CallJob(JobKind):
    name: ClassVar[str] = "call"
    label: ClassVar[str] = "call"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset(OPEN)
    step_timeout_s: ClassVar[float] = LISTEN_S + 120.0
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        S.STARTING: frozenset({S.QUEUED, S.DIALING, S.IN_PROGRESS, *ENDED, S.NOT_STARTED}),
        S.QUEUED: frozenset({S.DIALING, S.IN_PROGRESS, *ENDED}),
        S.DIALING: frozenset({S.IN_PROGRESS, *ENDED}),
        S.IN_PROGRESS: frozenset(ENDED),
    }

    def describe(self, action: Action) -> str:
        payload = action.payload
        who = callee(payload)
        number = human(str(payload["body"]["target_phone"]))
        name = f"Call to {who}" + (f" ({number})" if who != number else "")
        state = {
            S.STARTING: "being placed",
            S.QUEUED: "waiting in the call agent's queue",
            S.DIALING: "dialing",
            S.IN_PROGRESS: "on the line",
            S.NOT_STARTED: f"not placed: {payload.get('refusal') or 'refused'}",
            S.FAILED: "failed",
            S.NO_ANSWER: "nobody answered",
            S.CANCELLED: "cancelled",
            S.COMPLETED: "finished",
        }[S(action.status)]
        summary = (payload.get("outcome") or {}).get("summary")
        return f"{name}: {state}" + (f" — {clip(str(summary), 200)}" if summary else "")

    async def step(self, job: JobContext) -> Step:
        access = job.deps.call_agent
        agent = await access.agent(job.address) if access is not None else None
        if agent is None:
            if job.action.status == S.STARTING:
                return await self._refused(job, "the call agent is no longer set up here")
            return Step(job.action.status, run_at=soon(60.0))
        if job.action.status == S.STARTING:
            return await self._start(job, agent)
        return await Listener(job, agent).run()

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        # Placing: whether the POST left is unknown; the next step looks before dialing.
        return Step(job.action.status, run_at=soon(15.0), error=type(error).__name__)

    async def _start(self, job: JobContext, agent: CallAgent) -> Step:
        payload = job.action.payload
        access = job.deps.call_agent
        assert access is not None
        if "posting" in payload:
            found = await self._find_placed(job, agent)
            if found is not None:
                return await self._placed(job, found.call_id, found.status, None)
            if job.action.attempts > MAX_START_ATTEMPTS:
                return await self._refused(job, "the call agent couldn't be reached")
        await access.ensure_webhook(agent)
        body = StartCallBody.model_validate(payload["body"])
        await job.checkpoint(posting=datetime.now(UTC).isoformat(), fingerprint=agent.fingerprint)
        try:
            started = await agent.client.start_call(body)
        except PartnerHTTPError as error:
            if error.retryable and not isinstance(error, Maintenance | DialFailed):
                return Step(S.STARTING, run_at=soon(15.0), error=type(error).__name__)
            return await self._refused(job, refusal(error))
        except PartnerError as error:  # timed out or cut off: it may have been placed
            return Step(S.STARTING, run_at=soon(10.0), error=type(error).__name__)
        return await self._placed(job, started.call_id, started.status, started.position)

    async def _find_placed(self, job: JobContext, agent: CallAgent) -> Call | None:
        """The call a crashed step placed, if the call agent has it."""
        since = datetime.fromisoformat(str(job.action.payload["posting"])) - ADOPT_WINDOW
        number = str(job.action.payload["body"]["target_phone"])
        try:
            calls = await agent.client.list_calls(limit=20)
        except PartnerError:
            return None
        for call in calls:  # most recent first
            created = (
                call.created_at if call.created_at.tzinfo else call.created_at.replace(tzinfo=UTC)
            )
            if call.target_phone == number and created >= since:
                return call
        return None

    async def _placed(self, job: JobContext, call_id: str, word: str, position: int | None) -> Step:
        status = from_partner(word) or S.DIALING
        if status in ENDED or status == S.STARTING:
            status = S.DIALING  # the stream, read from its start, tells the rest
        await job.checkpoint(position=position)
        view = replace(CallView.of(job.action).but(status), call_id=call_id)
        return Step(
            status,
            partner_ref=call_id,
            run_at=soon(0),
            error=None,
            say=(Say("card:placed", call_card(view)),),
        )

    async def _refused(self, job: JobContext, reason: str) -> Step:
        await job.checkpoint(refusal=reason)
        view = CallView.of(job.action).but(S.NOT_STARTED)
        return Step(
            S.NOT_STARTED,
            error="not_started",
            say=(Say("card:refused", call_card(view)),),
            note={
                "source": "call_agent",
                "call_to": callee(job.action.payload),
                "not_placed": reason,
            },
        )


CALL = CallJob()
