"""The job runner on SQLite and PostgreSQL: leases, take-over, races, and statuses that only
move forward with each announcement made once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select, update

from conversations import ConversationAddress, Sender
from conversations.capabilities.outgoing.booking_job import BOOKING, BookingJobStatus
from conversations.capabilities.outgoing.search_job import SEARCH, SearchStatus
from conversations.capabilities.registry import JOB_KINDS
from conversations.credentials import EnvironmentCredentials
from conversations.jobs import JobRunner, start_job
from conversations.jobs.kinds import (
    JobContext,
    JobKind,
    Step,
    TransitionTableError,
    check_forward_only,
)
from conversations.leases import lease_until
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.tools import ToolDeps
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, RunningSandbox
from storage import Database, repositories
from storage.models import Action, OutboxMessage
from tests.conversations.conftest import CIPHER

HERE = ConversationAddress("console", "W1", "C1", "")
ALICE = Sender("U_ALICE", "Alice")


@dataclass
class Rig:
    db: Database
    deps: ToolDeps
    sandbox: RunningSandbox

    def runner(self, owner: str, lease_s: float = 20.0) -> JobRunner:
        return JobRunner(db=self.db, kinds=JOB_KINDS, deps=self.deps, owner=owner, lease_s=lease_s)

    async def search(self, prompt: str = "jazz") -> Action:
        async with self.db.session() as session:
            conversation = await repositories.get_or_create_conversation(
                session, platform="console", workspace_id="W1", chat_id="C1", thread_id=""
            )
            return await start_job(
                session,
                SEARCH,
                status=SearchStatus.QUEUED,
                address=HERE,
                conversation_id=conversation.id,
                requested_by=ALICE.user_id,
                payload={"prompt": prompt, "location": "Brooklyn"},
            )

    async def job(self, job_id: str) -> Action:
        async with self.db.session(read_only=True) as session:
            found = await repositories.get_action(session, action_id=job_id, workspace_id="W1")
        assert found is not None
        return found

    async def said(self) -> list[str]:
        async with self.db.session(read_only=True) as session:
            rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
            return [str(r.dedupe_key) for r in rows.all()]

    def searches_sent(self) -> int:
        return len(self.sandbox.state.requests_to("/partner/v1/search", "GET"))


@pytest.fixture
async def rig(database: Database, sandbox: RunningSandbox) -> AsyncIterator[Rig]:
    async with httpx.AsyncClient() as http:
        credentials = EnvironmentCredentials(sandbox.base_url, DEFAULT_NEGOTIATED_KEY)
        deps = ToolDeps(
            db=database,
            outgoing=OutgoingAccess(
                http=http, credentials=credentials, people=People(database, CIPHER)
            ),
            progress_interval_s=0.05,
            job_kinds={kind.name: kind for kind in JOB_KINDS},
        )
        yield Rig(database, deps, sandbox)


def test_every_kind_moves_only_forward() -> None:
    for kind in JOB_KINDS:
        check_forward_only(kind.name, kind.transitions)
    with pytest.raises(TransitionTableError):
        check_forward_only("loop", {"a": frozenset({"b"}), "b": frozenset({"a"})})


async def test_a_live_lease_is_never_taken_and_a_dead_ones_job_finishes_once(rig: Rig) -> None:
    job = await rig.search()
    async with rig.db.session() as session:  # a process claims the job, then dies
        (taken,) = await repositories.claim_runnable_jobs(
            session, kinds=["search"], owner="dead", until=_soon(0.6)
        )
    assert taken.id == job.id
    survivor = rig.runner("alive", lease_s=5)
    assert await survivor.start_due() == 0  # the dead process's lease has not run out yet
    await asyncio.sleep(0.7)
    assert await survivor.start_due() == 1
    await survivor.drain()
    assert (await rig.job(job.id)).status == SearchStatus.SUCCEEDED
    assert await survivor.start_due() == 0
    assert await rig.said() == [f"job:{job.id}:result"]


async def test_two_runners_racing_run_each_job_once(rig: Rig) -> None:
    jobs = [await rig.search(f"jazz {n}") for n in range(6)]
    first, second = rig.runner("one"), rig.runner("two")
    claimed = await asyncio.gather(first.start_due(), second.start_due())
    assert sum(claimed) == len(jobs)
    await asyncio.gather(first.drain(), second.drain())
    assert rig.searches_sent() == len(jobs)
    assert sorted(await rig.said()) == sorted(f"job:{j.id}:result" for j in jobs)


async def test_a_step_whose_lease_was_taken_changes_nothing(rig: Rig) -> None:
    job = await rig.search()
    slow = rig.runner("slow", lease_s=0.3)
    rig.sandbox.state.config = replace(rig.sandbox.state.config, search_latency_s=1.0)
    assert await slow.start_due() == 1
    await asyncio.sleep(0.1)
    async with rig.db.session() as session:  # it stalls past its lease; another takes over
        await session.exec(
            update(Action).where(col(Action.id) == job.id).values(lease_owner="other")
        )
    await slow.drain()
    assert (await rig.job(job.id)).status == SearchStatus.QUEUED
    assert await rig.said() == []


TARGETS = st.lists(st.sampled_from([s.value for s in BookingJobStatus]), max_size=12)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(updates=TARGETS)
async def test_booking_statuses_never_go_back_and_each_is_announced_once(
    rig: Rig, updates: list[str]
) -> None:
    async with rig.db.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session, platform="console", workspace_id="W1", chat_id="C1", thread_id=""
        )
        job = await start_job(
            session,
            BOOKING,
            status=BookingJobStatus.PLACING,
            address=HERE,
            conversation_id=conversation.id,
            requested_by=ALICE.user_id,
            payload={},
        )
    seen = [BookingJobStatus.PLACING.value]
    for target in updates:  # webhooks, orders and steps, in any order and repeated
        async with rig.db.session() as session:
            moved = await repositories.transition_action(
                session,
                action_id=job.id,
                from_statuses=BOOKING.allowed_from(target),
                to_status=target,
            )
            if moved:
                await repositories.enqueue_outbox(
                    session,
                    platform="console",
                    workspace_id="W1",
                    chat_id="C1",
                    payload={"text": target},
                    dedupe_key=f"job:{job.id}:{target}",
                )
        if moved:
            assert target in BOOKING.transitions[seen[-1]]
            seen.append(target)
    assert len(seen) == len(set(seen))  # never back to a status it had
    announced = [k for k in await rig.said() if k.startswith(f"job:{job.id}:")]
    assert len(announced) == len(seen) - 1


def _soon(seconds: float) -> datetime:
    return lease_until(seconds=seconds)


class _Held(JobKind):
    """A step that waits for the test to let it finish, then asks to be left for an hour."""

    name: ClassVar[str] = "held_probe"
    label: ClassVar[str] = "probe"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset({"waiting"})
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {"waiting": frozenset({"done"})}

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.finish = asyncio.Event()

    async def step(self, job: JobContext) -> Step:
        self.running.set()
        await self.finish.wait()
        return Step("waiting", run_at=_soon(3600))

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        return Step("waiting")

    def describe(self, action: Action) -> str:
        return "a held step"


async def _start_held(rig: Rig, held: _Held, *, jobs: int = 1) -> list[Action]:
    async with rig.db.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session, platform="console", workspace_id="W1", chat_id="C1", thread_id=""
        )
        return [
            await start_job(
                session,
                held,
                status="waiting",
                address=HERE,
                conversation_id=conversation.id,
                requested_by=ALICE.user_id,
                payload={},
            )
            for _ in range(jobs)
        ]


async def test_a_wake_while_the_step_runs_is_not_lost(rig: Rig) -> None:
    """A vote or an answer arrives while the job's step runs: once the step ends the job is
    due at once, not at the later time the step asked for (and without a wake, it is)."""
    held = _Held()
    runner = JobRunner(db=rig.db, kinds=[held], deps=rig.deps, owner="a")
    (job,) = await _start_held(rig, held)
    for woken in (True, False):
        held.running.clear()
        held.finish.clear()
        await runner.start_due()
        await held.running.wait()
        if woken:
            async with rig.db.session() as session:
                assert await repositories.schedule_job(session, action_id=job.id)
        held.finish.set()
        await runner.drain()
        due = (await rig.job(job.id)).next_run_at
        assert due is not None
        if woken:
            assert due <= _soon(0), "the wake was lost"
        else:
            assert due > _soon(3000)


async def test_a_full_runner_starts_the_next_due_job_as_soon_as_one_finishes(rig: Rig) -> None:
    """With no room left, a due job waits for a running one, not for the next poll."""
    held = _Held()
    runner = JobRunner(db=rig.db, kinds=[held], deps=rig.deps, owner="a", poll_s=60, capacity=1)
    await _start_held(rig, held, jobs=2)
    running = asyncio.ensure_future(runner.run())
    try:
        await asyncio.wait_for(held.running.wait(), 5)
        assert runner.busy == 1
        held.running.clear()
        held.finish.set()  # the first ends; the second starts long before the 60 s poll
        await asyncio.wait_for(held.running.wait(), 5)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
