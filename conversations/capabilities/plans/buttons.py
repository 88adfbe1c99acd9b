"""The plan's buttons: vote, close the vote, break a tie, I'm in / I'm out, and the
organiser's two ways to book. Each checks who pressed and what the plan is doing now,
records the person's say, and makes the plan's job due (it edits the messages)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from conversations.buttons import ButtonRouter
from conversations.capabilities.plans.booking import ALL, EACH, everyone_quote, refuse_all
from conversations.capabilities.plans.job import IN, PLAN, VOTE, PlanStatus, winner_of
from conversations.capabilities.plans.options import options_of
from conversations.capabilities.plans.render import Roster
from conversations.jobs import wake_job
from conversations.replies import BUTTON_EXPIRED, Reply
from conversations.tools.context import ToolContext
from storage import repositories
from storage.models import Action

S = PlanStatus
CLOSED = {
    S.CHOOSING: "Voting has closed; the organiser is picking between the tied options.",
    S.GATHERING: "Voting has closed. Tap I'm in on the winner to come along.",
    S.BOOKING: "Voting has closed and booking has started.",
    S.DONE: "This plan is over.",
    S.CANCELLED: "This plan was called off.",
    S.FAILED: "This plan didn't work out.",
}
BOOKING_STARTED = "Booking has started, so the list is closed. Ask the organiser to add you."


async def _plan(ctx: ToolContext, plan_id: str) -> Action | None:
    """The plan behind a button, only within the workspace it was pressed in."""
    async with ctx.deps.db.session(read_only=True) as session:
        action = await repositories.get_action(
            session, action_id=plan_id, workspace_id=ctx.address.workspace_id
        )
    return action if action is not None and action.kind == PLAN.name else None


def _index(argument: str) -> tuple[str, int] | None:
    plan_id, _, raw = argument.partition(":")
    return (plan_id, int(raw)) if raw.isdigit() and len(raw) <= 2 else None


async def _decide(
    ctx: ToolContext, plan: Action, add: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
) -> bool:
    async with ctx.deps.db.session() as session:
        done = await repositories.add_to_job(
            session, action_id=plan.id, workspace_id=plan.workspace_id, add=add
        )
    ctx.deps.jobs.ring()
    return done is not None


async def _mark(ctx: ToolContext, plan: Action, kind: str, value: int | None) -> tuple[Reply, ...]:
    """Record the presser's vote or I'm in (`value`), or take it back (None), and make the
    plan due: its job edits the plan's messages."""
    async with ctx.deps.db.session() as session:
        user = ctx.sender.user_id
        if value is None:
            await repositories.unchoose(session, plan_id=plan.id, kind=kind, user_id=user)
        else:
            await repositories.choose(
                session,
                plan_id=plan.id,
                kind=kind,
                user_id=user,
                value=value,
                name=ctx.sender.display_name,
            )
        await repositories.schedule_job(session, action_id=plan.id)
    ctx.deps.jobs.ring()
    return ()


def _organiser_only(ctx: ToolContext, plan: Action, what: str) -> Reply | None:
    if ctx.sender.user_id == plan.requested_by:
        return None
    return ctx.privately(f"Only the person who started this plan can {what}.")


async def _vote(ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
    parsed = _index(argument)
    plan = await _plan(ctx, parsed[0]) if parsed else None
    if plan is None or parsed is None or parsed[1] >= len(options_of(plan.payload)):
        return (BUTTON_EXPIRED,)
    if plan.status != S.VOTING:
        return (ctx.privately(CLOSED.get(S(plan.status), CLOSED[S.DONE])),)
    if datetime.now(UTC) >= datetime.fromisoformat(str(plan.payload["deadline"])):
        await wake_job(ctx.deps.db, ctx.deps.jobs, plan.id)
        return (ctx.privately("Too late: voting has just closed."),)
    return await _mark(ctx, plan, VOTE, parsed[1])


async def _unvote(ctx: ToolContext, plan_id: str) -> tuple[Reply, ...]:
    plan = await _plan(ctx, plan_id)
    if plan is None or plan.status != S.VOTING:
        return ()  # a retracted Telegram answer after the vote: nothing to undo
    return await _mark(ctx, plan, VOTE, None)


async def _close(ctx: ToolContext, plan_id: str) -> tuple[Reply, ...]:
    plan = await _plan(ctx, plan_id)
    if plan is None:
        return (BUTTON_EXPIRED,)
    if (refused := _organiser_only(ctx, plan, "close the vote")) is not None:
        return (refused,)
    if plan.status != S.VOTING:
        return (ctx.privately("The vote is already closed."),)
    await _decide(
        ctx, plan, lambda p: None if p.get("closed_by") else {"closed_by": ctx.sender.user_id}
    )
    return ()


async def _pick(ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
    parsed = _index(argument)
    plan = await _plan(ctx, parsed[0]) if parsed else None
    if plan is None or parsed is None or parsed[1] >= len(options_of(plan.payload)):
        return (BUTTON_EXPIRED,)
    if (refused := _organiser_only(ctx, plan, "break the tie")) is not None:
        return (refused,)
    if plan.status != S.CHOOSING:
        return (ctx.privately("The tie is already settled."),)
    await _decide(ctx, plan, lambda p: None if "picked" in p else {"picked": parsed[1]})
    return ()


async def _in(ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
    parsed = _index(argument)
    plan = await _plan(ctx, parsed[0]) if parsed else None
    if plan is None or parsed is None or plan.payload.get("winner") is None:
        return (BUTTON_EXPIRED,)
    option = winner_of(plan)
    if parsed[1] >= len(option.tickets):
        return (BUTTON_EXPIRED,)
    if plan.status != S.GATHERING or plan.payload.get("mode"):
        return (
            ctx.privately(BOOKING_STARTED if plan.status != S.CANCELLED else CLOSED[S.CANCELLED]),
        )
    ticket = option.tickets[parsed[1]]
    async with ctx.deps.db.session(read_only=True) as session:
        holding = await repositories.list_choices(session, plan_id=plan.id, kind=IN)
    taken = [c for c in holding if c.value == parsed[1] and c.user_id != ctx.sender.user_id]
    if len(taken) >= ticket.limit:  # a tap racing this one is told at booking time
        return (
            ctx.privately(
                f"Sorry, all {ticket.limit} {ticket.name} tickets the plan can book are taken."
            ),
        )
    return await _mark(ctx, plan, IN, parsed[1])


async def _out(ctx: ToolContext, plan_id: str) -> tuple[Reply, ...]:
    plan = await _plan(ctx, plan_id)
    if plan is None:
        return (BUTTON_EXPIRED,)
    if plan.status != S.GATHERING or plan.payload.get("mode"):
        return (ctx.privately(BOOKING_STARTED),)
    return await _mark(ctx, plan, IN, None)


def _mode(mode: str) -> Callable[[ToolContext, str], Any]:
    async def press(ctx: ToolContext, plan_id: str) -> tuple[Reply, ...]:
        plan = await _plan(ctx, plan_id)
        if plan is None or plan.payload.get("winner") is None:
            return (BUTTON_EXPIRED,)
        if (refused := _organiser_only(ctx, plan, "start booking")) is not None:
            return (refused,)
        if plan.status != S.GATHERING or plan.payload.get("mode"):
            return (ctx.privately("Booking has already started."),)
        async with ctx.deps.db.session(read_only=True) as session:
            choices = await repositories.list_choices(session, plan_id=plan.id, kind=IN)
        roster = Roster(winner_of(plan), choices)
        if not roster.holding():
            return (ctx.privately("Nobody is in yet: wait for people to tap I'm in."),)
        if mode == ALL:
            problem = await refuse_all(
                ctx.deps, ctx.address, everyone_quote(roster.option, roster.holding())
            )
            if problem is not None:
                return (ctx.privately(problem),)
        await _decide(ctx, plan, lambda p: None if p.get("mode") else {"mode": mode})
        return ()

    return press


def register_plan_buttons(router: ButtonRouter) -> None:
    router.register("plan.vote", _vote)
    router.register("plan.unvote", _unvote)
    router.register("plan.close", _close)
    router.register("plan.pick", _pick)
    router.register("plan.in", _in)
    router.register("plan.out", _out)
    router.register("plan.each", _mode(EACH))
    router.register("plan.all", _mode(ALL))
