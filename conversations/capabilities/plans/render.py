"""What a plan shows: the poll, the tie, the winner with its "I'm in" buttons, the outcome.

Every message is keyed, so each step edits the same message in place (a restart too: the
platform message is found by its key). People's names come from their own votes and taps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conversations.capabilities.plans.options import PlanOption, clock
from conversations.jobs import job_key
from conversations.replies import ActivityCard, Button, Poll, Reply
from storage.models import PlanChoice

SOMEONE = "someone"


def poll_key(plan_id: str) -> str:
    """The poll replaces the plan's status line ("Finding options…")."""
    return job_key(plan_id)


def winner_key(plan_id: str) -> str:
    return f"plan:{plan_id}:in"


def tie_key(plan_id: str) -> str:
    return f"plan:{plan_id}:tie"


def name_of(choice: PlanChoice) -> str:
    return choice.name or SOMEONE


def names(people: Sequence[str]) -> str:
    if len(people) <= 1:
        return "".join(people)
    return ", ".join(people[:-1]) + " and " + people[-1]


def votes(n: int) -> str:
    return "1 vote" if n == 1 else f"{n} votes"


@dataclass(frozen=True)
class Tally:
    """Who voted for what; one vote per person (a changed vote replaced the old one)."""

    options: Sequence[PlanOption]
    choices: Sequence[PlanChoice]

    def voters(self, index: int) -> list[str]:
        return [name_of(c) for c in self.choices if c.value == index]

    def count(self, index: int) -> int:
        return sum(1 for c in self.choices if c.value == index)

    def leaders(self) -> list[int]:
        counts = [self.count(i) for i in range(len(self.options))]
        top = max(counts, default=0)
        return [i for i, n in enumerate(counts) if n == top]

    def signature(self) -> str:
        return ",".join(
            f"{c.user_id}={c.value}" for c in sorted(self.choices, key=lambda c: c.user_id)
        )


def _card(number: int, option: PlanOption, buttons: tuple[Button, ...] = ()) -> ActivityCard:
    return ActivityCard(
        number=number,
        title=option.name,
        activity_id=option.activity_id,
        image_url=option.image_url,
        venue=option.venue,
        when=option.when,
        price_label=option.price_label(),
        bookable=True,
        buttons=buttons,
    )


def poll_reply(
    plan_id: str, topic: str, tally: Tally, *, deadline: datetime, closed: bool
) -> Reply:
    """The vote: a card per option with its vote button, the counts and who voted, and the
    organiser's Close vote button (Telegram: a native poll with the same options)."""
    options = tally.options
    first = min(o.start for o in options)
    header = (
        f"🗳️ Voting closed: {topic}"
        if closed
        else f"🗳️ Vote: {topic}. Voting closes at {clock(deadline, first)}."
    )
    lines = [header]
    for number, option in enumerate(options, start=1):
        who = tally.voters(number - 1)
        said = f" ({names(who)})" if who else ""
        lines.append(f"{number}. {option.name} — {votes(len(who))}{said}")
    vote = [
        Button(f"Vote · {tally.count(i)}", f"plan.vote:{plan_id}:{i}", "default")
        for i in range(len(options))
    ]
    cards = tuple(
        _card(n, o, () if closed else (vote[n - 1],)) for n, o in enumerate(options, start=1)
    )
    poll = Poll(
        question=f"Where do we go? {topic}"[:300],
        options=tuple(
            Button(f"{o.name} · {o.when} · {o.price_label()}"[:100], vote[i].value)
            for i, o in enumerate(options)
        ),
        retract=f"plan.unvote:{plan_id}",
        closed=closed,
    )
    return Reply(
        text="\n".join(lines),
        cards=cards,
        buttons=() if closed else (Button("Close vote", f"plan.close:{plan_id}"),),
        key=poll_key(plan_id),
        poll=poll,
    )


def tie_reply(plan_id: str, tally: Tally, organiser: str, *, picked: int | None = None) -> Reply:
    """A tie (or no votes at all) goes to the organiser, who picks."""
    tied = tally.leaders()
    options = tally.options
    if picked is not None:
        return Reply(text=f"Picked: {options[picked].name}.", key=tie_key(plan_id))
    which = names([options[i].name for i in tied])
    opening = "Nobody voted." if not tally.choices else f"It's a tie between {which}."
    return Reply(
        text=f"{opening} You have the casting vote: which one?",
        buttons=tuple(Button(options[i].name[:60], f"plan.pick:{plan_id}:{i}") for i in tied),
        mention=organiser,
        key=tie_key(plan_id),
    )


@dataclass(frozen=True)
class Roster:
    """Who is in, and for which ticket; the first to tap keep the tickets."""

    option: PlanOption
    choices: Sequence[PlanChoice]

    def holding(self) -> list[PlanChoice]:
        """Those with a ticket: per ticket type, the first `limit` to tap."""
        kept: list[PlanChoice] = []
        for index, ticket in enumerate(self.option.tickets):
            kept.extend([c for c in self.choices if c.value == index][: ticket.limit])
        return sorted(kept, key=lambda c: (c.updated_at, c.id))

    def overflow(self) -> list[PlanChoice]:
        holding = {c.user_id for c in self.holding()}
        return [c for c in self.choices if c.user_id not in holding]

    def signature(self) -> str:
        return ",".join(f"{c.user_id}={c.value}" for c in self.holding())

    def line(self) -> str:
        holding = self.holding()
        if not holding:
            return "Nobody is in yet."
        several = len(self.option.tickets) > 1
        who = [
            name_of(c) + (f" ({self.option.tickets[c.value].name})" if several else "")
            for c in holding
        ]
        return f"In so far ({len(holding)}): {names(who)}"


def winner_reply(plan_id: str, roster: Roster, *, won: str, state: str | None = None) -> Reply:
    """The plan's choice, who is in, and — until booking starts — the "I'm in" buttons and
    the organiser's two ways to book."""
    option = roster.option
    venue = f" at {option.venue}" if option.venue else ""
    lines = [f"🎉 {won}: {option.name}, {option.when}{venue}.", roster.line()]
    buttons: tuple[Button, ...] = ()
    if state is None:
        lines.insert(1, "Tap I'm in to come along. Nothing is booked until each payer approves.")
        several = len(option.tickets) > 1
        joins = tuple(
            Button(
                f"I'm in · {t.name} {option.price(t)}"
                if several
                else f"I'm in · {option.price(t)}",
                f"plan.in:{plan_id}:{i}",
                "primary",
            )
            for i, t in enumerate(option.tickets)
        )
        buttons = (
            *joins,
            Button("I'm out", f"plan.out:{plan_id}"),
            Button("Each pays their own", f"plan.each:{plan_id}"),
            Button("I'll pay for everyone", f"plan.all:{plan_id}"),
        )
    else:
        lines.append(state)
    return Reply(
        text="\n".join(lines),
        cards=(_card(1, option),),
        buttons=buttons,
        key=winner_key(plan_id),
    )
