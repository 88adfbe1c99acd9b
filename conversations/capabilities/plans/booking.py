"""Booking a plan: each person's own share, or one booking the organiser pays for.

Starting is one transaction: the approvals (each answerable only by its payer, shown to
them alone) and their cards in the outbox, with the list kept in the job's payload. Each
approval granted becomes an ordinary booking job under its payer's own partner identity
(`booking.approvals.on_approve`); the plan then waits until every share is settled and
announces the outcome once in the thread.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.booking.approvals import spend_cap
from conversations.booking.messages import approval_request
from conversations.booking.quote import Quote, money
from conversations.capabilities.plans.options import PlanOption
from conversations.capabilities.plans.render import Roster, name_of, names, winner_reply
from conversations.jobs import JobContext, Say, Step, job_key, soon
from conversations.replies import Reply
from conversations.types import ConversationAddress
from storage import repositories
from storage.models import Approval, PlanChoice, new_id

if TYPE_CHECKING:
    from conversations.tools.context import ToolDeps

EACH, ALL = "each", "all"
CHECK_EVERY_S = 10.0
BOOKED = frozenset({"confirmed", "deliverable_ready"})
NOT_BOOKED = {"failed": "the booking failed", "cancelled": "the booking was cancelled"}


def own_workspace(address: ConversationAddress, user: str) -> str:
    """Where `user` presses a card shown to them alone: a Telegram private chat is a chat of
    its own (its id is the user's), a Slack ephemeral message or DM stays in the workspace."""
    return user if address.platform == "telegram" else address.workspace_id


def _share(option: PlanOption, choice: PlanChoice) -> Quote:
    return option.quote([(choice.value, 1)])


def everyone_quote(option: PlanOption, holding: list[PlanChoice]) -> Quote:
    counts = [(i, sum(1 for c in holding if c.value == i)) for i in range(len(option.tickets))]
    return option.quote(counts)


async def refuse_all(deps: ToolDeps, address: ConversationAddress, quote: Quote) -> str | None:
    """Why one booking for everyone can't be proposed (above the limit), or None."""
    cap = await spend_cap(deps, address)
    if quote.total_cents <= cap:
        return None
    return (
        f"Everyone's tickets come to {money(quote.total_cents, quote.currency)}, above this "
        f"workspace's limit of {money(cap, quote.currency)} per booking. Choose Each pays "
        "their own instead, or ask an admin to raise the limit."
    )


Ask = tuple[str, str, Quote, list[PlanChoice]]
"""One approval to ask for: the payer, their name, the quote, the people it covers."""


def _asks(
    mode: str,
    option: PlanOption,
    roster: Roster,
    organiser: tuple[str, str],
    cap: int,
) -> tuple[list[Ask], list[dict[str, str]]]:
    """Who is asked to approve what, and who is not booked (with why)."""
    holding = roster.holding()
    refused = [
        {"user": c.user_id, "name": name_of(c), "why": "no tickets were left"}
        for c in roster.overflow()
    ]
    asks: list[Ask] = []
    if mode == EACH:
        for choice in holding:
            quote = _share(option, choice)
            if quote.total_cents > cap:
                refused.append(
                    {"user": choice.user_id, "name": name_of(choice), "why": "above the limit"}
                )
            else:
                asks.append((choice.user_id, name_of(choice), quote, [choice]))
        return asks, refused
    everyone = everyone_quote(option, holding)
    if everyone.total_cents > cap:  # the limit was lowered since the press
        refused.extend(
            {"user": c.user_id, "name": name_of(c), "why": "the total is above the limit"}
            for c in holding
        )
        return asks, refused
    return [(*organiser, everyone, holding)], refused


async def start(job: JobContext, option: PlanOption, roster: Roster) -> Step:
    """Ask each payer for their approval, privately; nothing is booked by this."""
    action, deps = job.action, job.deps
    mode = str(action.payload["mode"])
    if "shares" not in action.payload:  # not asked yet (a re-run after a crash was)
        organiser = (action.requested_by, str(action.payload.get("organiser_name") or ""))
        cap = await spend_cap(deps, job.address)
        asks, refused = _asks(mode, option, roster, organiser, cap)
        await _ask(job, mode, asks, refused)
    state = (
        "Booking: each person approves their own ticket, privately."
        if mode == EACH
        else "Booking: the organiser approves one booking for everyone, privately."
    )
    won = str(action.payload.get("won") or "The plan")
    return Step(
        "booking",
        run_at=soon(CHECK_EVERY_S),
        say=(Say("booking", winner_reply(action.id, roster, won=won, state=state)),),
    )


async def _ask(job: JobContext, mode: str, asks: list[Ask], refused: list[dict[str, str]]) -> None:
    """The approvals, their private cards and the list of them (`shares`): one write, the
    approvals' ids chosen first, so a crash never leaves a card the plan does not track."""
    action, deps = job.action, job.deps
    ttl = timedelta(seconds=deps.booking.approval_ttl_s)
    payment = deps.booking.payment_mode
    shares: list[dict[str, Any]] = [
        {
            "user": payer,
            "name": payer_name,
            "approval_id": new_id(),
            "workspace_id": own_workspace(job.address, payer),
            "for": [{"user": c.user_id, "name": name_of(c)} for c in covers],
        }
        for payer, payer_name, _, covers in asks
    ]

    async def ask(session: AsyncSession) -> None:
        for share, (_, _, quote, covers) in zip(shares, asks, strict=True):
            approval = await repositories.create_approval(
                session,
                approval_id=str(share["approval_id"]),
                conversation_id=action.conversation_id,
                workspace_id=str(share["workspace_id"]),
                requested_by=str(share["user"]),
                snapshot={"quote": quote.to_json(), "payment_mode": payment, "plan_id": action.id},
                expires_at=datetime.now(UTC) + ttl,
            )
            card = _card(approval, quote, payment, len(covers), mode)
            await delivery.enqueue(
                session, job.address, card, dedupe_key=f"{job_key(action.id)}:ask:{approval.id}"
            )

    await job.write(ask, shares=shares, refused=refused)


def _card(approval: Approval, quote: Quote, payment: str, people: int, mode: str) -> Reply:
    card = approval_request(approval.id, quote, payment, approval.requested_by)
    assert card.approval is not None
    lines = card.approval.lines
    if mode == ALL and people > 1:
        each = money(quote.total_cents // people, quote.currency)
        lines = (*lines, f"For {people} people: {each} each")
    return replace(
        card,
        approval=replace(card.approval, lines=lines),
        private_to=approval.requested_by,
    )


async def _outcome(session: AsyncSession, share: dict[str, Any]) -> str | None:
    """ "booked", why it was not, or None while it is still open."""
    approval = await repositories.get_approval(
        session, approval_id=str(share["approval_id"]), workspace_id=str(share["workspace_id"])
    )
    if approval is None:
        return "the approval was lost"
    if approval.status == "rejected":
        return "cancelled their approval"
    if approval.status == "expired" or (
        approval.status == "pending" and approval.expires_at <= datetime.now(UTC)
    ):
        return "didn't approve in time"
    if approval.status != "granted" or approval.action_id is None:
        return None
    booking = await repositories.get_action(
        session, action_id=approval.action_id, workspace_id=str(share["workspace_id"])
    )
    if booking is None:
        return None
    if booking.status in BOOKED:
        return "booked"
    return NOT_BOOKED.get(booking.status)


async def step(job: JobContext) -> Step:
    """Wait for every share to be settled, then say once who is booked and who is not."""
    payload = job.action.payload
    shares: list[dict[str, Any]] = list(payload.get("shares") or [])
    async with job.deps.db.session(read_only=True) as session:
        outcomes = [await _outcome(session, s) for s in shares]
    if any(o is None for o in outcomes):
        return Step("booking", run_at=soon(CHECK_EVERY_S))
    booked: list[str] = []
    missing = [f"{r['name'] or 'someone'} ({r['why']})" for r in payload.get("refused") or []]
    tell: list[Say] = []
    for share, outcome in zip(shares, outcomes, strict=True):
        covered = [c["name"] or "someone" for c in share["for"]]
        if outcome == "booked":
            booked.extend(covered)
            if payload.get("mode") == ALL:
                tell.extend(_told(share))
        else:
            why = (
                outcome
                if payload.get("mode") == EACH
                else f"{share['name'] or 'the organiser'} {outcome}"
            )
            missing.extend(f"{who} ({why})" for who in covered)
    lines = [f"Plan outcome for {winner_name(payload)}:"]
    lines.append(f"✅ Booked: {names(booked)}." if booked else "Nobody was booked.")
    if missing:
        lines.append(f"Not booked: {'; '.join(missing)}.")
    lines.append("Tickets go to each payer privately.")
    return Step(
        "done",
        result={"booked": len(booked), "not_booked": len(missing)},
        say=(Say("outcome", Reply(text="\n".join(lines))), *tell),
    )


def _told(share: dict[str, Any]) -> list[Say]:
    """In one booking for everyone, each person covered hears privately that they are in."""
    payer = str(share["user"])
    return [
        Say(
            f"covered:{c['user']}",
            Reply(
                text=f"You're booked: {share['name'] or 'the organiser'} booked everyone's "
                "tickets, yours included.",
                private_to=str(c["user"]),
            ),
        )
        for c in share["for"]
        if c["user"] != payer
    ]


def winner_name(payload: dict[str, Any]) -> str:
    options = payload.get("options") or []
    winner = payload.get("winner")
    return str(options[int(winner)]["name"]) if winner is not None and options else "the plan"
