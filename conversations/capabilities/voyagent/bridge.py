"""The bridge: while the agency's agent answers in a conversation, the requester's messages
there go to the agency session, not to our model, until they say they are done.

Only the requester's words are passed on (the session and its approvals are theirs); anyone
else in the thread is told so privately and nothing of theirs is sent. A message is added
to the job once, keyed by the inbound item it came from, so a re-run adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conversations.buttons import ButtonRouter
from conversations.capabilities.voyagent.approvals import decide
from conversations.capabilities.voyagent.handoff import drop_trip, send_trip
from conversations.capabilities.voyagent.job import AgencyStatus, open_agency_job
from conversations.capabilities.voyagent.wording import is_done
from conversations.cards import clip
from conversations.replies import BUTTON_EXPIRED, Reply
from conversations.tools.context import ToolContext
from conversations.types import InboundMessage
from storage import repositories

MAX_RELAYED = 4000
BACK = (
    "You're back with the concierge. The agency keeps your enquiry; ask me to contact them "
    "again any time."
)


async def relay(ctx: ToolContext, message: InboundMessage) -> tuple[Reply, ...] | None:
    if ctx.deps.voyagent is None:
        return None
    async with ctx.deps.db.session(read_only=True) as session:
        job = await open_agency_job(session, conversation_id=ctx.conversation_id)
    if job is None:
        return None
    mine = ctx.sender.user_id == job.requested_by
    if is_done(message.text) and (mine or await _admin(ctx)):
        return await end_bridge(ctx, job.id)
    if not mine:
        return (
            ctx.privately(
                "The agency's travel agent is talking with the person who asked for this trip "
                "in this thread, so your message wasn't passed on. Start a new thread to talk "
                "with me."
            ),
        )
    text = message.text.strip()
    if not text:
        return ()
    item = {"text": clip(text, MAX_RELAYED), "by": ctx.sender.user_id, "origin": ctx.origin}

    def add(payload: Mapping[str, Any]) -> dict[str, Any] | None:
        said = list(payload.get("said") or [])
        if ctx.origin and any(s.get("origin") == ctx.origin for s in said):
            return None  # this very message, run again after a crash
        return {"said": [*said, item]}

    async with ctx.deps.db.session() as session:
        await repositories.add_to_job(
            session, action_id=job.id, workspace_id=job.workspace_id, add=add
        )
    ctx.deps.jobs.ring()
    if job.status == AgencyStatus.SHARING:
        return (Reply(text="Noted — I'll pass that on as soon as the agency is connected."),)
    paused = job.payload.get("paused")
    if paused is not None and paused["approval_id"] not in (job.payload.get("decisions") or {}):
        return (
            Reply(
                text="The agency's agent is waiting for your answer to the approval above; "
                "I'll pass this on once you've decided."
            ),
        )
    return ()


async def end_bridge(ctx: ToolContext, job_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session() as session:
        ended = await repositories.add_to_job(
            session,
            action_id=job_id,
            workspace_id=ctx.address.workspace_id,
            add=lambda p: None if p.get("done") else {"done": True},
        )
    if ended is None:
        return (ctx.privately("The chat with the agency has already ended."),)
    ctx.deps.jobs.ring()
    return (Reply(text=BACK),)


async def _admin(ctx: ToolContext) -> bool:
    return await ctx.deps.admins.is_admin(ctx.address, ctx.sender.user_id)


async def _done_pressed(ctx: ToolContext, job_id: str) -> tuple[Reply, ...]:
    async with ctx.deps.db.session(read_only=True) as session:
        job = await repositories.get_action(
            session, action_id=job_id, workspace_id=ctx.address.workspace_id
        )
    if job is None or job.kind != "agency":
        return (BUTTON_EXPIRED,)
    if job.requested_by != ctx.sender.user_id and not await _admin(ctx):
        return (ctx.privately("Only the person who asked for this trip can end the agency chat."),)
    return await end_bridge(ctx, job_id)


async def _approve(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    return await decide(ctx, approval_id, "granted")


async def _reject(ctx: ToolContext, approval_id: str) -> tuple[Reply, ...]:
    return await decide(ctx, approval_id, "rejected")


def register_agency_buttons(router: ButtonRouter) -> None:
    router.register("agency.go", send_trip)
    router.register("agency.no", drop_trip)
    router.register("agency.ok", _approve)
    router.register("agency.reject", _reject)
    router.register("agency.done", _done_pressed)
