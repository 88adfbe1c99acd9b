"""One agency turn streamed into the thread: one message, edited in place as it grows.

Edits are at most one per `VoyagentAccess.cadence` (1 s in Slack, 2 s in Telegram), never a
message per chunk. The last event id is kept with each edit, so a dropped stream or a
restart resumes with `Last-Event-ID` and posts nothing twice (each edit is an outbox row
keyed by the event id it shows). A turn that stops at an approval posts its card and waits.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.capabilities.voyagent.access import Agency
from conversations.capabilities.voyagent.approvals import open_approval
from conversations.capabilities.voyagent.wording import turn_key, turn_text
from conversations.cards import clip
from conversations.jobs import JobContext, Say, Step, soon
from conversations.replies import Reply
from integrations.errors import PartnerError
from integrations.voyagent import AgentEvent, StreamDropped, TurnInProgress
from storage import repositories

APPROVAL_TTL = timedelta(minutes=15)
"""How long an approval waits when the agency gives no expiry."""


class TurnStream:
    def __init__(self, job: JobContext, agency: Agency, turn: dict[str, Any]) -> None:
        self.job = job
        self.agency = agency
        self.turn = turn
        self.name = str(job.action.payload.get("agency_name") or "The travel agency")
        self.text = str(turn.get("text") or "")
        self.last_id: str | None = turn.get("last_event_id")
        access = job.deps.voyagent
        self.every_s = access.cadence(job.address.platform) if access is not None else None
        self._shown_at = 0.0
        self._dirty = False

    async def run(self) -> Step:
        payload = self.job.action.payload
        fresh = not self.turn.get("sent")
        if fresh:
            self.turn["sent"] = True
            await self.job.checkpoint(turn=self.turn)
        since = None if fresh else (self.last_id or payload.get("session_last_id") or "0")
        heard = False
        events = self.agency.client.follow_turn(
            str(payload["session_id"]),
            str(self.turn.get("message") or ""),
            approvals=self.turn.get("approvals"),
            last_event_id=since,
        )
        try:
            async for event in events:
                heard = True
                step = await self._on(event)
                if step is not None:
                    return step
                if self._due():
                    await self._show(writing=True)
        except TurnInProgress:
            # Our message reached the agency before a crash: follow the turn it started.
            self.turn["sent"] = True
            await self._keep()
            return Step(self.job.action.status, run_at=soon(1.0))
        except StreamDropped:
            if not fresh and not heard:
                self.turn["sent"] = False  # nothing under way there: our message never left
            await self._keep()
            return Step(self.job.action.status, run_at=soon(5.0), error="stream_dropped")
        except PartnerError as error:
            await self._keep()
            return Step(self.job.action.status, run_at=soon(15.0), error=type(error).__name__)
        finally:
            await events.aclose()
        await self._keep()  # the stream ended without saying how: resume it
        return Step(self.job.action.status, run_at=soon(2.0))

    async def _on(self, event: AgentEvent) -> Step | None:
        if event.id is not None:
            self.last_id = event.id
        if event.kind == "text_delta" and event.text:
            self.text += event.text
            self._dirty = True
            return None
        if event.kind == "final":
            if not self.text.strip() and event.text:
                self.text = event.text
            return await self._finish()
        if event.kind == "error":
            problem = clip(event.message or event.text or "", 300) or "an error"
            return await self._finish(also=f"The agency's agent ran into a problem: {problem}")
        if event.kind == "approval_request" and event.approval_id:
            return await self._pause(event)
        return None

    def _due(self) -> bool:
        if not self._dirty or self.every_s is None:
            return False
        return time.monotonic() - self._shown_at >= self.every_s

    def _reply(self, *, writing: bool) -> Reply:
        return Reply(
            text=turn_text(self.name, self.text, writing=writing),
            key=turn_key(self.job.action.id, int(self.turn["n"])),
        )

    async def _show(self, *, writing: bool) -> None:
        self._dirty = False
        self._shown_at = time.monotonic()
        slug = f"turn:{self.turn['n']}:{self.last_id or 'start'}:{'w' if writing else 'f'}"
        self.turn.update(text=self.text, last_event_id=self.last_id)
        await self.job.say(
            Say(slug, self._reply(writing=writing)),
            turn=self.turn,
            session_last_id=self.last_id,
        )

    async def _keep(self) -> None:
        self.turn.update(text=self.text, last_event_id=self.last_id)
        await self.job.checkpoint(turn=self.turn, session_last_id=self.last_id)

    async def _finish(self, *, also: str | None = None) -> Step:
        """The turn is over: its message as written, and the bridge free for the next one."""
        shown = self.text.strip() or also is None
        n = self.turn["n"]

        async def post(session: AsyncSession) -> None:
            base = f"agency:{self.job.action.id}:turn:{n}"
            if shown:
                await delivery.enqueue(
                    session, self.job.address, self._reply(writing=False), dedupe_key=f"{base}:f"
                )
            if also:
                await delivery.enqueue(
                    session, self.job.address, Reply(text=also), dedupe_key=f"{base}:error"
                )

        await self.job.write(post, turn=None, session_last_id=self.last_id)
        return Step(self.job.action.status, run_at=soon(0))

    async def _pause(self, event: AgentEvent) -> Step:
        """The agent asks for an approval: the turn so far, then the card; the job waits."""
        expires = event.expires_at or datetime.now(UTC) + APPROVAL_TTL
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        n = self.turn["n"]
        paused: dict[str, Any] = {}

        async def post(session: AsyncSession) -> None:
            if self.text.strip():
                await delivery.enqueue(
                    session,
                    self.job.address,
                    self._reply(writing=False),
                    dedupe_key=f"agency:{self.job.action.id}:turn:{n}:f",
                )
            paused.update(
                await open_approval(
                    session,
                    self.job,
                    partner_id=str(event.approval_id),
                    summary=event.approval_summary or "",
                    agency=self.name,
                    expires_at=expires,
                )
            )
            await repositories.update_job_payload(  # with its card, or not at all
                session,
                action_id=self.job.action.id,
                owner=self.job.owner,
                changes={"paused": paused},
            )

        await self.job.write(post, turn=None, session_last_id=self.last_id)
        self.job.action.payload = {**self.job.action.payload, "paused": paused}
        return Step(self.job.action.status, run_at=min(expires, soon(20.0)))


async def stream_turn(job: JobContext, agency: Agency, turn: dict[str, Any]) -> Step:
    return await TurnStream(job, agency, turn).run()
