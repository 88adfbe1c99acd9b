"""`run_matching` and its job: enrichment first when it is due, then a match run, polled.

`GET /runs/{id}` is what counts: a run webhook only wakes the job early (a hint), so a run is
announced once, when a poll sees it finished. The job's one card is edited in place with the
run's counters; its idempotency key (written before any request) keys both runs, so a job
re-attached after a restart gets the same runs back instead of starting new ones.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.capabilities.events.chat import here, organises, writes_here
from conversations.capabilities.events.runs import counters, final, webhook_refused
from conversations.capabilities.events.wording import (
    NO_EVENT,
    ONLY_ORGANISER,
    READ_ONLY,
    events_failure,
)
from conversations.jobs import JobContext, JobKind, Say, Step, soon, start_job
from conversations.replies import Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from integrations.events import EventsClient
from integrations.events.models import Run
from storage import repositories, token_hash
from storage.models import Action
from storage.repositories import chat_events

MAX_POLLS = 600


def poll_delay() -> float:
    return random.uniform(2.0, 3.0)


def retry_delay(attempts: int) -> float:
    """After the partner could not be reached: the same request, with the same key, later."""
    return 10.0 * (attempts + 1)


class MatchingStatus(StrEnum):
    STARTING = "starting"
    ENRICHING = "enriching"
    MATCHING = "matching"
    READY = "ready"
    FAILED = "failed"


S = MatchingStatus


def card(action: Action, status: str, detail: str = "") -> Reply:
    title = action.payload.get("title", "the event")
    texts: dict[str, str] = {
        S.STARTING: f"🤝 Matching for “{title}”: starting…",
        S.ENRICHING: f"🤝 Matching for “{title}”: enriching profiles ({detail or 'queued'})…",
        S.MATCHING: f"🤝 Matching for “{title}”: finding introductions ({detail or 'queued'})…",
        S.READY: f"✅ Matches are ready for “{title}”. Each of you can ask me “who should I "
        "meet?” and I'll answer you privately.",
        S.FAILED: f"Matching for “{title}” stopped: {detail}",
    }
    text = texts.get(status, f"🤝 “{title}”: {status}")
    return Reply(text=text, key=f"job:{action.id}")


class MatchingJob(JobKind):
    name: ClassVar[str] = "event_matching"
    label: ClassVar[str] = "matching"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset({S.STARTING, S.ENRICHING, S.MATCHING})
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        S.STARTING: frozenset({S.ENRICHING, S.MATCHING, S.FAILED}),
        S.ENRICHING: frozenset({S.MATCHING, S.FAILED}),
        S.MATCHING: frozenset({S.READY, S.FAILED}),
    }

    def describe(self, action: Action) -> str:
        title = action.payload.get("title", "the event")
        lines: dict[str, str] = {
            S.STARTING: f"Matching for “{title}”: starting",
            S.ENRICHING: f"Matching for “{title}”: enriching profiles",
            S.MATCHING: f"Matching for “{title}”: finding introductions",
            S.READY: f"Matches ready for “{title}”",
        }
        return lines.get(action.status, f"Matching for “{title}”: stopped")

    async def step(self, job: JobContext) -> Step:
        access = job.deps.events
        client = await access.client(job.address) if access is not None else None
        if client is None:
            return self._failed(job, "Events matching is no longer set up here.")
        status = job.action.status
        if status == S.STARTING:
            if job.action.payload.get("enrich"):
                return await self._start(job, client, "enrichment")
            return await self._start(job, client, "match")
        run_id = job.action.payload.get("enrich_run" if status == S.ENRICHING else "match_run")
        return await self._poll(job, client, str(run_id))

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        return Step(job.action.status, run_at=soon(poll_delay()), error=type(error).__name__)

    async def _start(self, job: JobContext, client: EventsClient, kind: str) -> Step:
        """Start the enrichment or match run under the job's stored key (a retry replays)."""
        access, action = job.deps.events, job.action
        assert access is not None
        key = f"{action.idempotency_key}-{kind}"
        hook = (
            None
            if action.payload.get("no_webhook")
            else access.webhook_url(str(action.idempotency_key))
        )
        event_id = action.payload["event_id"]
        try:
            if kind == "enrichment":
                run = await client.start_enrichment(event_id, idempotency_key=key, webhook_url=hook)
            else:
                top_n = int(action.payload.get("top_n") or 5)
                run = await client.start_matching(
                    event_id, idempotency_key=key, top_n=top_n, webhook_url=hook
                )
        except PartnerError as error:
            if hook is not None and webhook_refused(error):
                await job.checkpoint(no_webhook=True)  # only a hint: poll without it
                return Step(action.status, run_at=soon(0.0))
            if final(error) or action.attempts >= 6:
                return self._failed(job, events_failure(error))
            return Step(action.status, run_at=soon(retry_delay(action.attempts)))
        if kind == "enrichment":
            await job.checkpoint(enrich_run=run.run_id)
            status = S.ENRICHING
        else:
            await job.checkpoint(match_run=run.run_id)
            status = S.MATCHING
        return self._progress(job, status, run, partner_ref=run.run_id)

    async def _poll(self, job: JobContext, client: EventsClient, run_id: str) -> Step:
        action = job.action
        try:
            run = await client.get_run(run_id)
        except PartnerError as error:
            if final(error):
                return self._failed(job, events_failure(error))
            return Step(action.status, run_at=soon(poll_delay()))
        if not run.terminal:
            if action.attempts >= MAX_POLLS:
                return self._failed(job, "the matching service hasn't finished; ask me again.")
            return self._progress(job, S(action.status), run)
        if run.status != "succeeded":
            return self._failed(job, "the matching service couldn't finish this run.")
        if action.status == S.ENRICHING:
            await self._enriched(job)
            return await self._start(job, client, "match")
        return Step(
            S.READY,
            result={"run_id": run.run_id},
            say=(Say("card:ready", card(action, S.READY)),),
            note={
                "source": "events",
                "matches": "ready",
                "note": "Already shown to the chat. Members ask for their own matches "
                "(my_matches); never list anyone's matches in the chat.",
            },
        )

    async def _enriched(self, job: JobContext) -> None:
        chat_event_id = job.action.payload["chat_event_id"]

        async def record(session: AsyncSession) -> None:
            await chat_events.mark_enriched(
                session, chat_event_id=chat_event_id, at=datetime.now(UTC)
            )

        await job.write(record)

    def _progress(
        self, job: JobContext, status: MatchingStatus, run: Run, partner_ref: str | None = None
    ) -> Step:
        detail = counters(run)
        return Step(
            status,
            partner_ref=partner_ref,
            run_at=soon(poll_delay()),
            say=(Say(f"card:{status}:{detail}", card(job.action, status, detail)),),
        )

    def _failed(self, job: JobContext, reason: str) -> Step:
        return Step(
            S.FAILED,
            error="failed",
            result={"reason": reason},
            say=(Say("card:failed", card(job.action, S.FAILED, reason)),),
        )


MATCHING = MatchingJob()


@tool(partner="events", offered=writes_here)
async def run_matching(
    ctx: ToolContext,
    top_n: Annotated[int, Field(ge=1, le=50, description="introductions per person")] = 5,
) -> ToolOutcome:
    """Start matching this chat's event ("run matching"): enriches the attendees' profiles
    first when new people were added, then finds introductions. No confirmation is needed.
    Only the organiser may. A card in the thread shows the progress and says when matches are
    ready; don't wait for it."""
    found = await here(ctx)
    if found is None:
        return tool_error("Events matching isn't set up here.")
    event = found.event
    if event is None:
        return tool_error(NO_EVENT)
    if not await organises(ctx, found.access, event):
        return ToolOutcome(
            for_model={"status": "refused", "note": "Told the user privately; say no more."},
            replies=(ctx.privately(ONLY_ORGANISER),),
        )
    if not await found.access.can_write(ctx.address):
        return tool_error(READ_ONLY)
    if event.imported_at is None:
        return tool_error(
            "Nobody has been added to the event yet.",
            hint="The organiser can say “add everyone here” first.",
        )
    async with ctx.deps.db.session(read_only=True) as session:
        jobs = await repositories.conversation_jobs(
            session, conversation_id=ctx.conversation_id, kinds=[MATCHING.name]
        )
    if any(MATCHING.is_open(j.status) for j in jobs):
        return tool_error("Matching is already running here: its card shows how it stands.")
    enrich = event.enriched_at is None or event.enriched_at < event.imported_at
    key = ctx.work_key(MATCHING.name) or uuid.uuid4().hex
    token = found.access.webhook_token(key)
    async with ctx.deps.db.session() as session:
        job = await start_job(
            session,
            MATCHING,
            status=S.STARTING,
            address=ctx.address,
            conversation_id=ctx.conversation_id,
            requested_by=ctx.sender.user_id,
            payload={
                "chat_event_id": event.id,
                "event_id": event.event_id,
                "title": event.title,
                "enrich": enrich,
                "top_n": top_n,
            },
            idempotency_key=key,
            webhook_token_hash=token_hash(token) if token else None,
        )
    ctx.deps.jobs.ring()
    return ToolOutcome(
        for_model={
            "status": "started",
            "job_id": job.id,
            "enrichment_first": enrich,
            "note": "A card in the thread shows the progress and says when matches are ready.",
        },
        replies=(card(job, S.STARTING),),
    )
