"""The job runner: takes due jobs under a lease, runs their steps, writes what they became.

One runner per process (`serve` and `demo`). It claims due jobs (a lease that expires, renewed
while a step works), so two processes never work one job and a dead process's jobs are taken
over when their leases run out. Everything a job says goes through the outbox, in the same
transaction as its new status, so each announcement is made exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conversations import delivery
from conversations.jobs.kinds import JobContext, JobKind, LeaseLost, Step, job_address, job_key
from conversations.leases import LEASE_S, RENEW_EVERY_S, lease_until
from conversations.replies import Replier
from conversations.types import ConversationAddress
from conversations.work import progress_ticker
from storage import Database, repositories
from storage.models import Action

if TYPE_CHECKING:
    from conversations.tools.context import ToolDeps

log = logging.getLogger(__name__)

NOTE_PREFIX = "[concierge update — not written by the user] "


class JobRunner:
    def __init__(
        self,
        *,
        db: Database,
        kinds: Sequence[JobKind],
        deps: ToolDeps,
        owner: str,
        replier_for: Callable[[ConversationAddress], Replier | None] = lambda _: None,
        on_said: Callable[[], None] = lambda: None,
        poll_s: float = 1.0,
        lease_s: float = LEASE_S,
        capacity: int = 256,
    ) -> None:
        self._db = db
        self._kinds = {k.name: k for k in kinds}
        self._deps = deps
        self._owner = owner
        self._replier_for = replier_for
        self._on_said = on_said
        self._poll_s = poll_s
        self._lease_s = lease_s
        self._capacity = capacity
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}

    @property
    def kinds(self) -> Mapping[str, JobKind]:
        return self._kinds

    @property
    def busy(self) -> int:
        return len(self._running)

    def wake(self) -> None:
        """Look for due jobs now (a job was just started or woken)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and start due jobs until cancelled; cancelling also stops running steps."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self.start_due()
                except Exception:
                    log.exception("claiming jobs failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
        finally:
            held = list(self._running)
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._let_go(held)

    async def _let_go(self, job_ids: list[str]) -> None:
        """At shutdown: steps stopped half-way are left to another process, at once (their
        partner work is safe to redo: searches are re-run, bookings re-sent with their key)."""
        if not job_ids:
            return
        with contextlib.suppress(Exception):
            async with self._db.session() as session:
                for job_id in job_ids:
                    await repositories.release_action_lease(
                        session, action_id=job_id, owner=self._owner
                    )

    async def start_due(self) -> int:
        """Claim as many due jobs as there is room for and start their steps."""
        room = self._capacity - len(self._running)
        if room <= 0 or not self._kinds:
            return 0
        async with self._db.session(read_only=True) as session:
            if not await repositories.any_due_jobs(session, kinds=list(self._kinds)):
                return 0
        async with self._db.session() as session:
            claimed = await repositories.claim_runnable_jobs(
                session,
                kinds=list(self._kinds),
                owner=self._owner,
                until=lease_until(seconds=self._lease_s),
                limit=room,
            )
        for action in claimed:
            task = asyncio.get_running_loop().create_task(
                self._work(action), name=f"job:{action.kind}:{action.id}"
            )
            self._running[action.id] = task
            task.add_done_callback(self._forget(action.id))
        return len(claimed)

    def _forget(self, action_id: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(task: asyncio.Task[None]) -> None:
            full = len(self._running) >= self._capacity
            self._running.pop(action_id, None)
            if full:
                self.wake()  # due jobs may have waited for this room: don't wait for the poll
            if not task.cancelled() and task.exception() is not None:
                log.error("job %s failed", action_id, exc_info=task.exception())

        return forget

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the steps running now (tests, the demo's end of input); with
        `timeout_s`, no longer than that (a call is listened to for minutes)."""
        deadline = None if timeout_s is None else asyncio.get_running_loop().time() + timeout_s
        while self._running:
            left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if left is not None and left <= 0:
                return
            await asyncio.wait(list(self._running.values()), timeout=left)

    async def _work(self, action: Action) -> None:
        kind = self._kinds[action.kind]
        job = JobContext(action, self._deps, self._owner, self._on_said)
        if not kind.is_open(action.status):
            await self._release(action, finished=True)
            return
        loop = asyncio.get_running_loop()
        stepping = loop.create_task(self._step(kind, job))
        renewing = loop.create_task(self._renew(action.id))
        try:
            # A step whose lease is lost stops at once: another process has the job now
            # (two processes must never listen to one call, say).
            await asyncio.wait({stepping, renewing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stepping, renewing):
                task.cancel()
            await asyncio.gather(stepping, renewing, return_exceptions=True)
        step = None if stepping.cancelled() else stepping.result()
        if step is None:
            return
        if not kind.allows(action.status, step.status):
            log.error("job %s: %s → %s is not allowed", action.id, action.status, step.status)
            step = kind.crashed(job, RuntimeError("transition not allowed"))
        applied = await self._apply(action, step)
        if not applied:
            await self._release(action)
            return
        if step.say:
            self._on_said()
        if step.run_at is not None and step.run_at <= datetime.now(UTC) + timedelta(seconds=0.5):
            self.wake()  # due again at once (a call that moved on): don't wait for the poll

    async def _step(self, kind: JobKind, job: JobContext) -> Step | None:
        line = kind.status_line(job.action)
        replier = self._replier_for(job.address) if line else None
        try:
            async with asyncio.timeout(kind.step_timeout_s):
                if replier is None or line is None:
                    return await kind.step(job)
                async with progress_ticker(
                    replier,
                    key=job.key,
                    text=line,
                    interval_s=self._deps.progress_interval_s,
                    finish=False,
                    already_s=(datetime.now(UTC) - job.action.created_at).total_seconds(),
                ):
                    return await kind.step(job)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            log.warning("job %s was taken over by another process", job.action.id)
            return None
        except Exception as error:
            log.exception("job %s (%s) step failed", job.action.id, kind.name)
            return kind.crashed(job, error)

    async def _renew(self, action_id: str) -> None:
        while True:
            await asyncio.sleep(min(RENEW_EVERY_S, self._lease_s / 3))
            try:
                async with self._db.session() as session:
                    held = await repositories.renew_job_lease(
                        session,
                        action_id=action_id,
                        owner=self._owner,
                        until=lease_until(seconds=self._lease_s),
                    )
            except Exception:
                log.warning("could not renew the lease on job %s", action_id, exc_info=True)
                continue
            if not held:
                log.warning("lost the lease on job %s; its step is stopped", action_id)
                return

    async def _apply(self, action: Action, step: Step) -> bool:
        """The job's new status, its announcements, its note and its state, in one go."""
        address = job_address(action)
        async with self._db.session() as session:
            applied = await repositories.transition_action(
                session,
                action_id=action.id,
                from_statuses=(action.status,),
                to_status=step.status,
                result=step.result,
                error=step.error,
                partner_ref=step.partner_ref,
                lease_owner=self._owner,
                next_run_at=step.run_at,
                woken_after=action.next_run_at,  # a vote or an answer while the step ran
                release_lease=True,
            )
            if not applied:
                return False
            for said in step.say:
                await delivery.enqueue(
                    session, address, said.reply, dedupe_key=f"{job_key(action.id)}:{said.slug}"
                )
            if step.state:  # first: it locks the conversation row, as a turn's save does
                await repositories.merge_conversation_state(
                    session, conversation_id=action.conversation_id, changes=step.state
                )
            if step.note is not None:
                text = NOTE_PREFIX + json.dumps(step.note, ensure_ascii=False, default=str)
                await repositories.append_messages(
                    session,
                    conversation_id=action.conversation_id,
                    messages=[repositories.NewMessage("user", [{"type": "text", "text": text}])],
                )
        return True

    async def _release(self, action: Action, *, finished: bool = False) -> None:
        """Give the job back; `finished`: nothing is left to do, so it is not due again."""
        async with self._db.session() as session:
            if finished:
                await repositories.transition_action(
                    session,
                    action_id=action.id,
                    from_statuses=(action.status,),
                    to_status=action.status,
                    lease_owner=self._owner,
                    next_run_at=None,
                )
            await repositories.release_action_lease(session, action_id=action.id, owner=self._owner)
