"""Scripted friends in the demo's chat, so one person at a terminal can run a group plan.

Each friend answers what the terminal shows, a moment later and always the same way: votes
for their option in an open poll, taps the first I'm in of a plan's winner, and confirms an
approval shown privately to them. They press buttons as themselves (`local-<name>`), like a
member's tap on Slack or Telegram, as tracked work, so the demo's settling waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.console.app import ADDRESS, ConsoleReplier
from bot.console.render import head
from conversations import ConversationManager, Sender, WorkTracker
from conversations.manager import new_event_id
from conversations.replies import Reply
from conversations.types import ButtonPress

JOIN = "plan.in"
"""The verb of a plan's I'm in buttons."""
PAUSE_S = 0.3
"""How long a friend takes to react: long enough to read the message first."""


@dataclass(frozen=True)
class Friend:
    name: str
    votes_for: int
    """The option (1-based) this friend votes for in a poll."""

    @property
    def sender(self) -> Sender:
        return Sender(user_id=f"local-{self.name.lower()}", display_name=self.name)


FRIENDS = (Friend("Bea", 1), Friend("Cal", 1), Friend("Dee", 2))
"""Two votes for the first option and one for the second: the vote has a winner."""


@dataclass(frozen=True)
class Reaction:
    value: str
    said: str
    """What the terminal prints for it ("votes for 1. Late Set")."""


def reaction(friend: Friend, reply: Reply) -> Reaction | None:
    """What `friend` presses on seeing `reply`, or None."""
    me = friend.sender.user_id
    approval = reply.approval
    if approval is not None:
        mine = reply.private_to == me and approval.requester == me
        if mine and approval.status == "pending":
            return Reaction(approval.confirm.value, f"{approval.confirm.label.lower()}s, privately")
        return None
    if reply.private_to is not None:
        return None
    poll = reply.poll
    if poll is not None:
        if poll.closed or not 1 <= friend.votes_for <= len(poll.options):
            return None
        option = poll.options[friend.votes_for - 1]
        return Reaction(option.value, f"votes for {friend.votes_for}. {head(option.label)}")
    join = next((b for b in reply.buttons if b.value.partition(":")[0] == JOIN), None)
    return Reaction(join.value, f"taps {head(join.label)}") if join is not None else None


class ScriptedFriends:
    """Watches the terminal (`ConsoleReplier.watch`) and presses each friend's buttons in
    turn, once per button."""

    def __init__(
        self,
        manager: ConversationManager,
        work: WorkTracker,
        replier: ConsoleReplier,
        friends: Sequence[Friend] = FRIENDS,
        *,
        pause_s: float = PAUSE_S,
    ) -> None:
        self._manager = manager
        self._work = work
        self._replier = replier
        self._friends = tuple(friends)
        self._pause_s = pause_s
        self._pressed: set[tuple[str, str]] = set()

    @property
    def introduction(self) -> str:
        """For the demo's banner: who else is in the chat, and what they do."""
        people = [f.name for f in self._friends]
        them = ", ".join(people[:-1]) + " and " + people[-1] if len(people) > 1 else people[0]
        return (
            f"{them} are in this chat too: they vote in a group plan (`plan a night out …`) "
            f"and join it; `as {people[0]}: …` speaks as one of them."
        )

    def saw(self, reply: Reply) -> None:
        due: list[tuple[Friend, Reaction]] = []
        for friend in self._friends:
            said = reaction(friend, reply)
            if said is not None and (friend.name, said.value) not in self._pressed:
                self._pressed.add((friend.name, said.value))
                due.append((friend, said))
        if due:
            self._work.spawn(self._press(due), name="console-friends")

    async def _press(self, due: Sequence[tuple[Friend, Reaction]]) -> None:
        for friend, said in due:
            await asyncio.sleep(self._pause_s)
            self._replier.note(f"{friend.name} {said.said}.")
            press = ButtonPress(ADDRESS, friend.sender, said.value, new_event_id())
            await self._manager.handle(press, self._replier)
