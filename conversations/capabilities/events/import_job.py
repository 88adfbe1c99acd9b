"""The attendee import job: the approved members sent in chunks, then polled to the end.

The job's idempotency key is written (with the sealed list) before the partner hears of it;
the chunks and their keys follow from both, so a retry — the transport's, or this step's
after a crash — sends the same bytes under the same keys and gets the same runs back.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.capabilities.events.roster import unseal
from conversations.capabilities.events.runs import counters, final, webhook_refused
from conversations.capabilities.events.wording import events_failure
from conversations.jobs import JobContext, JobKind, Say, Step, soon
from conversations.replies import Reply
from integrations.errors import PartnerError
from integrations.events.models import Run
from storage.models import Action
from storage.repositories import chat_events

MAX_SEND_ATTEMPTS = 6
MAX_POLLS = 600


def poll_delay() -> float:
    return random.uniform(2.0, 3.0)


def retry_delay(attempts: int) -> float:
    """After the partner could not be reached: the same request, with the same key, later."""
    return 10.0 * (attempts + 1)


class ImportStatus(StrEnum):
    SENDING = "sending"
    IMPORTING = "importing"
    IMPORTED = "imported"
    FAILED = "failed"


S = ImportStatus


def _count(action: Action) -> int:
    return int(action.payload.get("count") or 0)


def card(action: Action, status: str, detail: str = "") -> Reply:
    title = action.payload.get("title", "the event")
    n = _count(action)
    people = "1 person" if n == 1 else f"{n} people"
    texts: dict[str, str] = {
        S.SENDING: f"👥 Adding {people} to “{title}”…",
        S.IMPORTING: f"👥 Adding {people} to “{title}”: {detail or 'in progress'}…",
        S.IMPORTED: f"✅ Added {people} to “{title}”. The organiser can now say “run matching”.",
        S.FAILED: f"Adding people to “{title}” stopped: {detail}",
    }
    text = texts.get(status, f"👥 “{title}”: {status}")
    return Reply(text=text, key=f"job:{action.id}")


class ImportJob(JobKind):
    name: ClassVar[str] = "event_import"
    label: ClassVar[str] = "attendee import"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset({S.SENDING, S.IMPORTING})
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        S.SENDING: frozenset({S.IMPORTING, S.IMPORTED, S.FAILED}),
        S.IMPORTING: frozenset({S.IMPORTED, S.FAILED}),
    }

    def describe(self, action: Action) -> str:
        title = action.payload.get("title", "the event")
        lines: dict[str, str] = {
            S.SENDING: f"Adding people to “{title}”: sending",
            S.IMPORTING: f"Adding people to “{title}”: importing",
            S.IMPORTED: f"People added to “{title}”",
        }
        return lines.get(action.status, f"Adding people to “{title}”: stopped")

    async def step(self, job: JobContext) -> Step:
        access = job.deps.events
        client = await access.client(job.address) if access is not None else None
        if access is None or client is None:
            return self._failed(job, "Events matching is no longer set up here.")
        if job.action.status == S.SENDING:
            return await self._send(job)
        return await self._poll(job)

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        return Step(job.action.status, run_at=soon(poll_delay()), error=type(error).__name__)

    async def _send(self, job: JobContext) -> Step:
        access, action = job.deps.events, job.action
        assert access is not None and job.deps.people is not None
        client = await access.client(job.address)
        assert client is not None
        members = unseal(
            job.deps.people.cipher, action.payload["seal_id"], action.payload["sealed"]
        )
        key = str(action.idempotency_key)
        hook = None if action.payload.get("no_webhook") else access.webhook_url(key)
        try:
            runs = await client.import_attendees(
                action.payload["event_id"],
                [m.attendee() for m in members],
                idempotency_key=key,
                webhook_url=hook,
            )
        except PartnerError as error:
            if hook is not None and webhook_refused(error):
                await job.checkpoint(no_webhook=True)  # only a hint: poll without it
                return Step(S.SENDING, run_at=soon(0.0))
            if final(error) or action.attempts >= MAX_SEND_ATTEMPTS:
                return self._failed(job, events_failure(error))
            return Step(S.SENDING, run_at=soon(retry_delay(action.attempts)))
        await job.checkpoint(
            count=len(members),
            user_ids=[m.user_id for m in members],
            run_ids=[run.run_id for run in runs],
        )
        return Step(
            S.IMPORTING,
            partner_ref=runs[0].run_id if runs else None,
            run_at=soon(poll_delay()),
            say=(Say("card:importing", card(action, S.IMPORTING)),),
        )

    async def _poll(self, job: JobContext) -> Step:
        access, action = job.deps.events, job.action
        assert access is not None
        client = await access.client(job.address)
        assert client is not None
        runs: list[Run] = []
        try:
            for run_id in action.payload.get("run_ids", []):
                runs.append(await client.get_run(run_id))
        except PartnerError as error:
            if final(error):
                return self._failed(job, events_failure(error))
            return Step(S.IMPORTING, run_at=soon(poll_delay()))
        failed = [run for run in runs if run.terminal and run.status != "succeeded"]
        if failed:
            return self._failed(job, "the matching service couldn't import everyone.")
        if all(run.terminal for run in runs):
            return await self._done(job)
        detail = ", ".join(filter(None, (counters(run) for run in runs))) or "in progress"
        if action.attempts >= MAX_POLLS:
            return self._failed(job, "the matching service hasn't finished; ask me again.")
        return Step(
            S.IMPORTING,
            run_at=soon(poll_delay()),
            say=(Say(f"card:importing:{detail}", card(action, S.IMPORTING, detail)),),
        )

    async def _done(self, job: JobContext) -> Step:
        action = job.action
        now = datetime.now(UTC)

        async def record(session: AsyncSession) -> None:
            await chat_events.mark_members_shared(
                session,
                platform=action.platform,
                workspace_id=action.workspace_id,
                chat_id=action.chat_id,
                user_ids=list(action.payload.get("user_ids", [])),
                at=now,
            )
            await chat_events.mark_imported(
                session, chat_event_id=action.payload["chat_event_id"], at=now
            )

        await job.write(record)
        return Step(
            S.IMPORTED,
            result={"imported": _count(action)},
            say=(Say("card:imported", card(action, S.IMPORTED)),),
            note={
                "source": "events",
                "imported": _count(action),
                "note": "Already shown to the chat; not an instruction.",
            },
        )

    def _failed(self, job: JobContext, reason: str) -> Step:
        return Step(
            S.FAILED,
            error="failed",
            result={"reason": reason},
            say=(Say("card:failed", card(job.action, S.FAILED, reason)),),
        )


IMPORT = ImportJob()
