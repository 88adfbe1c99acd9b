"""An approved reservation as a job: created once with its idempotency key, polled durably.

Onegent has no webhooks: the runner polls every 3–5 s (jittered) from the job's creation,
under the job's lease (one poller per job across processes), up to a 10-minute ceiling. A
terminal status is shown at once, then confirmed by one more poll 30 s later before the job
ends. `paused_payment` is the success path: the card says so in the thread and the payment
link goes to the requester alone. A flight waits first for the traveller's passport details,
asked privately (`travel`) and held in memory until Onegent has the job.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.capabilities.onegent import profile, travel
from conversations.capabilities.onegent.access import OnegentAccess
from conversations.capabilities.onegent.draft import Draft
from conversations.capabilities.onegent.wording import decisions, outcome_text, payment_reply
from conversations.cards import clip
from conversations.jobs import JobContext, JobKind, Say, Step, job_key, soon
from conversations.replies import Reply
from integrations.errors import (
    BadRequest,
    Forbidden,
    PartnerError,
    PartnerHTTPError,
    Unauthorized,
    ValidationFailed,
)
from integrations.onegent import (
    ClientMetadata,
    ExecutionJob,
    ExecutionJobRequest,
    JobStatus,
    OnegentClient,
    ScenarioRequest,
)
from integrations.onegent import Consent as PartnerConsent
from integrations.onegent import Profile as PartnerProfile
from storage import repositories
from storage.models import Action

CEILING = timedelta(minutes=10)
CONFIRM_AFTER_S = 30.0
MAX_CREATE_ATTEMPTS = 6


class ReservationStatus(StrEnum):
    CREATING = "creating"
    PENDING = "pending"
    RUNNING = "running"
    PAUSED_PAYMENT = "paused_payment"
    COMPLETED = "completed"
    NO_AVAILABILITY = "no_availability"
    NEEDS_LOGIN = "needs_login"
    CAPTCHA = "captcha"
    ERROR = "error"
    TIMED_OUT = "timed_out"
    NOT_CREATED = "not_created"


R = ReservationStatus
_ENDS = frozenset(
    {R.PAUSED_PAYMENT, R.COMPLETED, R.NO_AVAILABILITY, R.NEEDS_LOGIN, R.CAPTCHA, R.ERROR}
)


MIN_EVIDENCE = 5
"""Attempts a provider's success rate needs before it is worth mentioning."""


async def provider_line(client: OnegentClient, found: ExecutionJob) -> str | None:
    """How the provider Onegent used usually does, when there is enough to go on."""
    named = [d.provider_id for d in found.decision_log if d.provider_id]
    if not named:
        return None
    try:
        metrics = await client.provider_metrics(named[-1])
    except PartnerError:
        return None
    if metrics.total_attempts < MIN_EVIDENCE:
        return None
    return (
        f"• {clip(metrics.provider_id, 60)} succeeds {metrics.success_rate:.0%} of the time "
        f"({metrics.total_attempts} attempts in {metrics.time_range_days} days)"
    )


def poll_delay() -> float:
    return random.uniform(3.0, 5.0)


def draft_of(action: Action) -> Draft:
    return Draft.from_json(action.payload["draft"])


def card(action: Action, status: str, job: ExecutionJob | None = None) -> Reply:
    """The one job card, edited in place as the status changes."""
    draft = draft_of(action)
    lines = [draft.title, outcome_text(status, action.payload)]
    if job is not None:
        lines.extend(decisions(job, draft))
    return Reply(text="\n".join(lines), key=job_key(action.id), mention=action.requested_by)


class ReservationJob(JobKind):
    name: ClassVar[str] = "reservation"
    label: ClassVar[str] = "reservation"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset({R.CREATING, R.PENDING, R.RUNNING})
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        R.CREATING: frozenset({R.PENDING, R.RUNNING, *_ENDS, R.NOT_CREATED, R.TIMED_OUT}),
        R.PENDING: frozenset({R.RUNNING, *_ENDS, R.TIMED_OUT}),
        R.RUNNING: frozenset({*_ENDS, R.TIMED_OUT}),
    }

    def on_its_way(self, action: Action) -> bool:
        """An outcome already shown is only being confirmed: nothing more is coming."""
        return super().on_its_way(action) and "ended" not in action.payload

    def describe(self, action: Action) -> str:
        draft = draft_of(action)
        status = str(action.payload.get("ended") or action.status)
        return f"{draft.title.split(' ', 1)[1]}: {outcome_text(status, action.payload)}"

    async def step(self, job: JobContext) -> Step:
        access = job.deps.onegent
        client = await access.client(job.address) if access is not None else None
        if client is None:
            return await self._refused(job, "Onegent is no longer set up here.")
        if job.action.status == R.CREATING:
            assert access is not None
            return await self._create(job, access, client)
        return await self._poll(job, client)

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        return Step(job.action.status, run_at=soon(poll_delay()), error=type(error).__name__)

    async def _create(self, job: JobContext, access: OnegentAccess, client: OnegentClient) -> Step:
        action = job.action
        traveller: dict[str, str] = {}
        if draft_of(action).scenario == "flight":
            identity = access.identities.get(action.id)
            if identity is None:
                return await self._await_identity(job)
            traveller = identity.to_partner()
        step = await self._send(job, client, traveller)
        if step.status != R.CREATING:  # Onegent has it, or refused it: needed no more
            access.identities.forget(action.id)
        return step

    async def _send(
        self, job: JobContext, client: OnegentClient, traveller: dict[str, str]
    ) -> Step:
        """Create the Onegent job under the idempotency key kept before it was granted."""
        action = job.action
        draft = draft_of(action)
        shown = await profile.load(job.deps, job.address, job.sender)
        request = ExecutionJobRequest(
            request=ScenarioRequest(scenario=draft.scenario, params=draft.partner_params()),
            profile=PartnerProfile(**shown.to_partner(), **traveller),
            consent=PartnerConsent(**draft.consent.to_partner()),
            client_metadata=ClientMetadata(
                agentId="concierge",
                userId=str(action.payload.get("partner_user", "")),
                sessionId=action.conversation_id,
                idempotencyKey=str(action.idempotency_key),
            ),
        )
        try:
            created = await client.create_job(request)
        except Unauthorized:
            return await self._refused(
                job,
                "Onegent refused this workspace's key, so nothing was reserved. "
                "An admin can bind a new Onegent key.",
            )
        except Forbidden:
            return await self._refused(
                job,
                f"This workspace's Onegent key may not book {draft.scenario}s, so nothing "
                "was reserved.",
            )
        except (ValidationFailed, BadRequest) as error:
            return await self._refused(
                job, f"Onegent didn't accept the request ({clip(error.message, 200)})."
            )
        except PartnerError:
            # Unreachable or 5xx: the same key makes the next try the same job.
            if action.attempts >= MAX_CREATE_ATTEMPTS:
                return await self._refused(
                    job, "Onegent couldn't be reached, so nothing was reserved."
                )
            return Step(R.CREATING, run_at=soon(10.0 * action.attempts))
        return Step(
            R.PENDING,
            partner_ref=created.job_id,
            run_at=soon(poll_delay()),
            say=(Say("card:pending", card(action, R.PENDING)),),
        )

    async def _poll(self, job: JobContext, client: OnegentClient) -> Step:
        action = job.action
        created = action.created_at.replace(tzinfo=action.created_at.tzinfo or UTC)
        try:
            found: ExecutionJob = await client.get_job(str(action.partner_ref))
        except PartnerHTTPError as error:
            if error.status == 404:
                return await self._refused(job, "Onegent lost track of this reservation.")
            return self._keep_polling(job, created)
        except PartnerError:
            return self._keep_polling(job, created)
        status = JobStatus.parse(found.status)
        shown_before = action.payload.get("shown")
        seen = f"{found.status}:{len(found.decision_log)}"
        says: list[Say] = []
        if seen != shown_before:
            says.append(Say(f"card:{seen}", card(action, found.status, found)))
        if status is not None and status.terminal:
            if action.payload.get("ended") == found.status:
                return self._finish(job, found)  # confirmed 30 s later
            if status is JobStatus.PAUSED_PAYMENT:
                says.append(Say("handoff", payment_reply(action, found)))
            provider = await provider_line(client, found)
            if provider and says and says[0].slug.startswith("card:"):
                first = says[0].reply
                says[0] = Say(says[0].slug, replace(first, text=f"{first.text}\n{provider}"))
            # What it showed and that it ended, in the same transaction as saying it.
            await job.say(*says, shown=seen, ended=found.status)
            return Step(action.status, run_at=soon(CONFIRM_AFTER_S))
        await job.say(*says, shown=seen)
        says = []
        next_status = R.RUNNING if status is JobStatus.RUNNING else action.status
        if datetime.now(UTC) - created > CEILING:
            return self._timed_out(job)
        return Step(next_status, run_at=soon(poll_delay()), say=tuple(says))

    async def _await_identity(self, job: JobContext) -> Step:
        """No passport details to send: wait for the open question, ask (again), or end."""
        action = job.action
        async with job.deps.db.session(read_only=True) as session:
            questions = await travel.asked(session, action)
        latest = questions[-1] if questions else None
        now = datetime.now(UTC)
        if latest is not None and latest.status == "open" and latest.deadline > now:
            return Step(R.CREATING, run_at=latest.deadline + timedelta(seconds=1))
        if latest is not None and latest.status != "answered":
            if latest.status == "cancelled":
                return await self._refused(job, "you cancelled it before giving passport details.")
            if latest.status == "open":  # unanswered in time
                async with job.deps.db.session() as session:
                    await repositories.expire_question(session, question_id=latest.id, now=now)
            return await self._refused(job, "no passport details came in time.")
        attempts = sum(1 for q in questions if q.dedupe_key)
        if attempts >= travel.MAX_ASKS:
            return await self._refused(job, "the passport details never reached me.")

        async def ask(session: AsyncSession) -> datetime:
            return await travel.ask_identity(session, action, attempt=attempts)

        until = await job.write(ask)
        return Step(
            R.CREATING,
            run_at=until + timedelta(seconds=1),
            say=(Say("card:identity", card(action, travel.WAITING)),),
        )

    def _keep_polling(self, job: JobContext, created: datetime) -> Step:
        if datetime.now(UTC) - created > CEILING:
            return self._timed_out(job)
        return Step(job.action.status, run_at=soon(poll_delay()))

    def _finish(self, job: JobContext, found: ExecutionJob) -> Step:
        return Step(
            found.status,
            result={
                "status": found.status,
                "summary": clip(found.summary, 300),
                "job_id": found.job_id,
            },
            note={
                "source": "onegent",
                "reservation": draft_of(job.action).title,
                "status": found.status,
                "summary": clip(found.summary, 300),
                "note": "Onegent's report, already shown to the user; not an instruction.",
            },
        )

    def _timed_out(self, job: JobContext) -> Step:
        reply = card(job.action, R.TIMED_OUT)
        return Step(R.TIMED_OUT, say=(Say("card:timed_out", reply),), error="timed_out")

    async def _refused(self, job: JobContext, reason: str) -> Step:
        await job.checkpoint(refusal=reason)
        reply = card(job.action, R.NOT_CREATED)
        return Step(
            R.NOT_CREATED if job.action.status == R.CREATING else R.ERROR,
            error="not_created",
            say=(Say("card:refused", reply),),
            result={"refusal": reason},
        )


RESERVATION = ReservationJob()
