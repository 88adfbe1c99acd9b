"""A group plan as one job: searching → voting → (a tie: choosing) → gathering → booking.

Votes and "I'm in"s are rows of their own (`plan_choice`), written by the buttons; every
button press makes the job due, and the job alone edits the plan's messages, so they are
edited in order, once per change, by whichever process holds the job — after a restart too.
Statuses only move forward; what the buttons add to the payload (`closed_by`, `picked`,
`mode`) are keys the job itself never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from conversations.capabilities.outgoing.search_job import topic
from conversations.capabilities.plans import booking
from conversations.capabilities.plans.options import (
    PlanOption,
    closing_time,
    options_of,
    pick_options,
)
from conversations.capabilities.plans.render import (
    Roster,
    Tally,
    poll_reply,
    tie_reply,
    winner_reply,
)
from conversations.jobs import JobContext, JobKind, Say, Step, soon
from conversations.replies import Reply
from conversations.tools.activities import fetch_details
from conversations.tools.failures import partner_failure
from integrations.errors import PartnerError
from storage import repositories
from storage.models import Action, PlanChoice

VOTE, IN = "vote", "in"


class PlanStatus(StrEnum):
    SEARCHING = "searching"
    VOTING = "voting"
    CHOOSING = "choosing"
    GATHERING = "gathering"
    BOOKING = "booking"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = PlanStatus


def plan_topic(payload: Mapping[str, Any]) -> str:
    return topic(str(payload.get("prompt") or "our plan"))


async def choices_of(job: JobContext, kind: str) -> list[PlanChoice]:
    async with job.deps.db.session(read_only=True) as session:
        return await repositories.list_choices(session, plan_id=job.action.id, kind=kind)


def winner_of(action: Action) -> PlanOption:
    return options_of(action.payload)[int(action.payload["winner"])]


class PlanJob(JobKind):
    name: ClassVar[str] = "plan"
    label: ClassVar[str] = "group plan"
    waiting_statuses: ClassVar[frozenset[str]] = frozenset({S.SEARCHING, S.BOOKING})
    transitions: ClassVar[Mapping[str, frozenset[str]]] = {
        S.SEARCHING: frozenset({S.VOTING, S.GATHERING, S.FAILED}),
        S.VOTING: frozenset({S.CHOOSING, S.GATHERING, S.CANCELLED}),
        S.CHOOSING: frozenset({S.GATHERING, S.CANCELLED}),
        S.GATHERING: frozenset({S.BOOKING, S.CANCELLED}),
        S.BOOKING: frozenset({S.DONE}),
    }

    def status_line(self, action: Action) -> str | None:
        if action.status == S.SEARCHING:
            return f"Finding options for {plan_topic(action.payload)}…"
        return None

    def describe(self, action: Action) -> str:
        words = {
            S.SEARCHING: "finding options",
            S.VOTING: "voting",
            S.CHOOSING: "a tie, waiting for the organiser to pick",
            S.GATHERING: "waiting for people to say they're in",
            S.BOOKING: "booking, waiting for approvals",
        }
        state = words.get(S(action.status), action.status)
        return f"Group plan for {plan_topic(action.payload)}: {state}"

    async def step(self, job: JobContext) -> Step:
        status = job.action.status
        if status == S.SEARCHING:
            return await self._search(job)
        if status == S.VOTING:
            return await self._voting(job)
        if status == S.CHOOSING:
            return await self._choosing(job)
        if status == S.GATHERING:
            return await self._gathering(job)
        if status == S.BOOKING:
            return await booking.step(job)
        return Step(status)

    def crashed(self, job: JobContext, error: BaseException) -> Step:
        if job.action.status == S.SEARCHING and job.action.attempts >= 3:
            return self._failed(job, "Sorry, finding options broke on my side. Nothing was booked.")
        return Step(job.action.status, run_at=soon(10.0))

    # ---- searching ---------------------------------------------------------------------

    async def _search(self, job: JobContext) -> Step:
        payload = job.action.payload
        try:
            session = await job.deps.outgoing.session(job.address, job.sender)
            if session is None:
                return self._failed(job, "Outgoing is not set up here, so I can't plan.")
            response = await session.client.search(
                str(payload["prompt"]), location=payload.get("location"), user=session.user
            )
            ids = [
                r.activity_id for r in response.results[: job.deps.enrich_limit] if r.activity_id
            ]
            details = await fetch_details(session, ids)
        except PartnerError as error:
            if job.action.attempts < 3:
                return Step(S.SEARCHING, run_at=soon(5.0 * job.action.attempts))
            said = str(partner_failure(error).for_model["error"])
            return self._failed(job, f"I couldn't find options for the plan: {said}")
        now = datetime.now(UTC)
        cents = payload.get("max_price_cents")
        options = pick_options(
            response.results,
            details,
            now=now,
            day=payload.get("date"),
            max_cents=int(cents) if cents is not None else None,
        )
        if not options:
            return self._failed(
                job,
                f"I found nothing bookable for “{payload['prompt']}”. Try other words, a "
                "higher budget or another day.",
            )
        deadline = closing_time(options, now=now, closes_at=payload.get("closes_at"))
        saved = [o.to_json() for o in options]
        if len(options) == 1:
            await job.checkpoint(
                options=saved, deadline=deadline.isoformat(), winner=0, won="The plan", in_shown=""
            )
            roster = Roster(options[0], [])
            return Step(
                S.GATHERING,
                run_at=options[0].start,
                say=(
                    Say(
                        "only",
                        Reply(text="Only one option fits, so no vote is needed.", key=job.key),
                    ),
                    Say("winner", winner_reply(job.action.id, roster, won="The plan")),
                ),
            )
        asked = await job.deps.members.of(job.address)  # who may vote: all of them → closed
        await job.checkpoint(
            options=saved, deadline=deadline.isoformat(), poll_shown="", asked=asked
        )
        reply = poll_reply(
            job.action.id, plan_topic(payload), Tally(options, []), deadline=deadline, closed=False
        )
        return Step(S.VOTING, run_at=deadline, say=(Say("poll", reply),))

    # ---- voting ------------------------------------------------------------------------

    async def _voting(self, job: JobContext) -> Step:
        payload = job.action.payload
        options = options_of(payload)
        deadline = datetime.fromisoformat(str(payload["deadline"]))
        tally = Tally(options, await choices_of(job, VOTE))
        asked = set(payload.get("asked") or ())
        everyone = bool(asked) and asked <= {c.user_id for c in tally.choices}
        closing = everyone or payload.get("closed_by") is not None or datetime.now(UTC) >= deadline
        if not closing:
            await self._refresh(
                job,
                "poll",
                tally.signature(),
                lambda: poll_reply(
                    job.action.id, plan_topic(payload), tally, deadline=deadline, closed=False
                ),
            )
            return Step(S.VOTING, run_at=deadline)
        closed = Say(
            "poll:closed",
            poll_reply(job.action.id, plan_topic(payload), tally, deadline=deadline, closed=True),
        )
        leaders = tally.leaders()
        if len(leaders) == 1 and tally.choices:
            return await self._won(job, leaders[0], votes_line(tally, leaders[0]), (closed,))
        tie = Say("tie", tie_reply(job.action.id, tally, job.action.requested_by))
        return Step(S.CHOOSING, run_at=min(o.start for o in options), say=(closed, tie))

    async def _choosing(self, job: JobContext) -> Step:
        picked = job.action.payload.get("picked")
        if picked is None:
            first = min(o.start for o in options_of(job.action.payload))
            if datetime.now(UTC) < first:
                return Step(S.CHOOSING, run_at=first)
            text = "Nobody picked before the first session started, so the plan is off."
            return Step(S.CANCELLED, say=(Say("off", Reply(text=text)),))
        tally = Tally(options_of(job.action.payload), await choices_of(job, VOTE))
        settled = Say(
            "tie:picked",
            tie_reply(job.action.id, tally, job.action.requested_by, picked=int(picked)),
        )
        return await self._won(job, int(picked), "The organiser's pick", (settled,))

    async def _won(self, job: JobContext, index: int, won: str, said: tuple[Say, ...]) -> Step:
        await job.checkpoint(winner=index, won=won, in_shown="")
        option = options_of(job.action.payload)[index]
        roster = Roster(option, [])
        return Step(
            S.GATHERING,
            run_at=option.start,
            say=(*said, Say("winner", winner_reply(job.action.id, roster, won=won))),
            note={
                "source": "group_plan",
                "job_id": job.action.id,
                "note": "The group's vote is over; the winner is shown with I'm in buttons. "
                "Only the organiser's buttons start booking; nothing is booked yet.",
                "winner": option.name,
            },
        )

    # ---- gathering ---------------------------------------------------------------------

    async def _gathering(self, job: JobContext) -> Step:
        option = winner_of(job.action)
        roster = Roster(option, await choices_of(job, IN))
        if job.action.payload.get("mode") is not None:
            return await booking.start(job, option, roster)
        if datetime.now(UTC) >= option.start:
            state = "The session has started, so the plan is closed. Nothing was booked."
            return Step(
                S.CANCELLED,
                say=(
                    Say("late", winner_reply(job.action.id, roster, won="The plan", state=state)),
                ),
            )
        won = str(job.action.payload.get("won") or "The plan")
        await self._refresh(
            job, "in", roster.signature(), lambda: winner_reply(job.action.id, roster, won=won)
        )
        return Step(S.GATHERING, run_at=option.start)

    @staticmethod
    async def _refresh(job: JobContext, what: str, signature: str, reply: Any) -> None:
        """Edit the message in place when what it shows changed (each edit said once)."""
        shown = job.action.payload.get(f"{what}_shown")
        if shown == signature:
            return
        count = int(job.action.payload.get(f"{what}_edits") or 0) + 1
        await job.say(
            Say(f"{what}:{count}", reply()),
            **{f"{what}_shown": signature, f"{what}_edits": count},
        )

    @staticmethod
    def _failed(job: JobContext, text: str) -> Step:
        return Step(S.FAILED, error=text, say=(Say("failed", Reply(text=text, key=job.key)),))


def votes_line(tally: Tally, index: int) -> str:
    n = tally.count(index)
    return f"The vote ({n} of {len(tally.choices)})"


PLAN = PlanJob()
