"""The call card's buttons: Cancel call while it runs, Transcript once it ended.

Both belong to the requester: the transcript is their call, and only they may stop it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conversations.capabilities.callagent.access import CallAgent
from conversations.capabilities.callagent.call_job import CALL
from conversations.capabilities.callagent.card import OPEN, callee
from conversations.capabilities.callagent.start import drop_call, place_call
from conversations.cards import clip
from conversations.replies import BUTTON_EXPIRED, Reply
from conversations.tools.context import ToolContext
from integrations.errors import PartnerError
from storage import repositories
from storage.models import Action

if TYPE_CHECKING:
    from conversations.buttons import ButtonRouter

MAX_TRANSCRIPT_LINES = 60
MAX_TRANSCRIPT_CHARS = 3500
_AGENT_ROLES = frozenset({"agent", "assistant", "bot", "ai", "outbound"})


async def _own_call(
    ctx: ToolContext, action_id: str, what: str
) -> tuple[Action, CallAgent] | Reply:
    async with ctx.deps.db.session(read_only=True) as session:
        action = await repositories.get_action(
            session, action_id=action_id, workspace_id=ctx.address.workspace_id
        )
    if action is None or action.kind != CALL.name:
        return BUTTON_EXPIRED
    if action.requested_by != ctx.sender.user_id:
        return ctx.privately(f"Only the person who asked for this call can {what}.")
    access = ctx.deps.call_agent
    agent = await access.agent(ctx.address) if access is not None else None
    if agent is None:
        return Reply(text="Phone calls are no longer set up here.")
    return action, agent


async def _cancel(ctx: ToolContext, action_id: str) -> tuple[Reply, ...]:
    found = await _own_call(ctx, action_id, "cancel it")
    if isinstance(found, Reply):
        return (found,)
    action, agent = found
    if action.status not in OPEN:
        return (Reply(text="This call has already ended."),)
    if action.partner_ref is None:
        return (
            Reply(text="The call is being placed right now; press Cancel call again in a moment."),
        )
    try:
        cancelled = await agent.client.cancel_call(action.partner_ref)
    except PartnerError:
        return (Reply(text="I couldn't reach the call agent to cancel; try again in a moment."),)
    if not cancelled:
        return (Reply(text="This call has already ended."),)
    async with ctx.deps.db.session() as session:
        await repositories.schedule_job(session, action_id=action.id)
    ctx.deps.jobs.ring()
    return (Reply(text=f"Cancelling the call to {callee(action.payload)}."),)


def _speaker(role: str) -> str:
    return "Agent" if role.lower() in _AGENT_ROLES else "Them"


async def _transcript(ctx: ToolContext, action_id: str) -> tuple[Reply, ...]:
    found = await _own_call(ctx, action_id, "see its transcript")
    if isinstance(found, Reply):
        return (found,)
    action, agent = found
    if action.partner_ref is None:
        return (Reply(text="This call was never placed, so there is no transcript."),)
    try:
        merged = await agent.client.transcript_merged(action.partner_ref)
        turns = (
            [(t.speaker, t.text) for t in merged.turns]
            if merged is not None
            else [
                (str(t.get("role") or t.get("speaker") or ""), str(t.get("text") or ""))
                for t in (await agent.client.get_call(action.partner_ref)).transcript_full or []
            ]
        )
    except PartnerError:
        return (Reply(text="I couldn't fetch the transcript just now; try again in a moment."),)
    lines = [f"> {_speaker(who)}: {clip(text, 300)}" for who, text in turns if text.strip()]
    if not lines:
        return (Reply(text="The call agent has no transcript for this call yet."),)
    shown = lines[:MAX_TRANSCRIPT_LINES]
    text = f"Transcript of the call to {callee(action.payload)}:\n" + "\n".join(shown)
    if len(text) > MAX_TRANSCRIPT_CHARS or len(lines) > len(shown):
        text = text[:MAX_TRANSCRIPT_CHARS].rsplit("\n", 1)[0] + "\n(…the rest is cut)"
    return (Reply(text=text),)


def register_call_buttons(router: ButtonRouter) -> None:
    router.register("call.go", place_call)
    router.register("call.no", drop_call)
    router.register("call.cancel", _cancel)
    router.register("call.transcript", _transcript)
