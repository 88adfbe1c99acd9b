"""The welcome: what the concierge can do here, shown for "help", "hi" or Telegram's Start.

Built in code from what is connected for the conversation's workspace, never by the model.
Its example and shortcut buttons carry opaque ids (`try:<name>`) that map to a fixed text
here; pressing one runs that text as if the presser had typed it in the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.credentials import CALL_AGENT, ONEGENT
from conversations.offline import OFFLINE_NOTE
from conversations.questions import GREETINGS
from conversations.replies import Button, Reply
from conversations.tools.context import ToolDeps
from conversations.types import ButtonPress, ConversationAddress, InboundMessage

TRY = "try"
"""The verb of a welcome button: `try:<name>`, one of `TYPED`'s names."""


@dataclass(frozen=True)
class Example:
    """A welcome button: its label, and the text pressing it says for the presser."""

    name: str
    label: str
    text: str

    @property
    def button(self) -> Button:
        return Button(self.label, f"{TRY}:{self.name}")


SEARCH = Example("search-jazz", "Jazz in Brooklyn tonight", "search jazz tonight in Brooklyn")
NEARBY = Example("near-williamsburg", "Things to do near Williamsburg", "near Williamsburg")
RESERVE = Example(
    "reserve-table",
    "Table for 2 at Le Bernardin, tomorrow 7pm",
    "reserve a table for 2 at Le Bernardin tomorrow at 7pm",
)
CALL = Example(
    "call-restaurant",
    "Call Nobu about a table for 4",
    "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm",
)
ORDERS = Example("orders", "My orders", "my orders")
RUNNING = Example("status", "What's running", "status")

TYPED = {e.name: e for e in (SEARCH, NEARBY, RESERVE, CALL, ORDERS, RUNNING)}

WHO_CONNECTS = {
    "slack": "A workspace admin can connect {what} with `/concierge settings`.",
}
"""Who can connect a partner, per platform; elsewhere the partner keys are the deployment's."""
WHO_CONNECTS_ELSEWHERE = "Whoever runs this concierge can connect {what} in its settings."


@dataclass(frozen=True)
class Connected:
    """Which partners this workspace can use right now."""

    outgoing: bool
    calls: bool
    reservations: bool
    agency: bool = False


async def connected(deps: ToolDeps, address: ConversationAddress) -> Connected:
    """What is configured here, the way the manager decides which tools the model gets."""
    resolver = deps.credentials or deps.outgoing.credentials
    calls = deps.call_agent is not None and (
        await resolver.credentials(address, CALL_AGENT) is not None
    )
    reservations = deps.onegent is not None and (
        await resolver.credentials(address, ONEGENT) is not None
    )
    agency = deps.voyagent is not None and await deps.voyagent.agency(address) is not None
    return Connected(await deps.outgoing.configured(address), calls, reservations, agency)


def welcome_reply(here: Connected, *, platform: str, offline: bool) -> Reply:
    """The welcome for a conversation where `here` is connected."""
    can = []
    if here.outgoing:
        can.append(
            "• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm"
        )
        can.append(
            "• Plan an outing with a group (`plan …`): a vote in the chat, then each person "
            "approves their own ticket"
        )
    if here.calls:
        can.append("• Phone a place for you with an AI voice agent (Call Agent)")
    if here.reservations:
        can.append("• Reserve restaurants, hotels and flights (Onegent)")
    if here.agency:
        can.append(
            "• Hand a trip that needs a travel agency (several cities, a group, visas) to "
            "the agency's own agent (Voyagent)"
        )
    missing = [
        name
        for name, on in (
            ("Outgoing (search and booking)", here.outgoing),
            ("Call Agent (phone calls)", here.calls),
            ("Onegent (reservations)", here.reservations),
        )
        if not on
    ]
    lines = ["Hi! I'm the concierge."]
    lines += ["Here is what I can do here:", *can] if can else ["Nothing is connected here yet."]
    if missing:
        what = _joined(missing)
        who = WHO_CONNECTS.get(platform, WHO_CONNECTS_ELSEWHERE).format(
            what="it" if len(missing) == 1 else "them"
        )
        lines.append(f"Not connected: {what}. {who}")
    if offline:
        lines.append(OFFLINE_NOTE)
    if can:
        lines.append("Try one of these, or just tell me what you're after:")
    return Reply(text="\n".join(lines), buttons=tuple(e.button for e in examples(here)))


def examples(here: Connected) -> tuple[Example, ...]:
    """The welcome's buttons: three examples and two shortcuts, only for what is connected."""
    shown: list[Example] = []
    if here.outgoing:
        shown += [SEARCH, NEARBY]
    if here.reservations:
        shown.append(RESERVE)
    elif here.calls:
        shown.append(CALL)
    if here.outgoing:
        shown.append(ORDERS)
    shown.append(RUNNING)
    return tuple(shown)


async def welcome(deps: ToolDeps, address: ConversationAddress, *, offline: bool) -> Reply:
    return welcome_reply(await connected(deps, address), platform=address.platform, offline=offline)


def typed(press: ButtonPress) -> InboundMessage | None:
    """The message a welcome button stands for, as if its presser had typed it; None for
    any other button (an unknown `try:` id too: it then gets the usual "no longer active")."""
    verb, _, name = press.value.partition(":")
    example = TYPED.get(name) if verb == TRY else None
    if example is None:
        return None
    return InboundMessage(press.address, press.sender, example.text, press.event_id)


def is_greeting(text: str) -> bool:
    """Whether a message only opens the chat or asks for help ("hi", "/start", "help")."""
    return " ".join(text.lower().split()).strip(" .!?") in GREETINGS


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
