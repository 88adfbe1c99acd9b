"""Channel-agnostic output. Each front-end has exactly one renderer from these types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ButtonStyle = Literal["default", "primary", "danger"]

MAX_FILE_BYTES = 5 * 1024 * 1024
"""The largest file a reply carries (an export): the outbox keeps it inline, base64 in JSON."""


@dataclass(frozen=True)
class Button:
    """A button whose `value` is an opaque id resolved on our side, never trusted as data."""

    label: str
    value: str
    style: ButtonStyle = "default"
    url: str | None = None
    """A link button: opens `url` (a payment page); pressing it runs nothing of ours."""


@dataclass(frozen=True)
class ActivityCard:
    """One search or nearby result as people see it. `number` is what `details <n>` refers to."""

    number: int
    title: str
    activity_id: str | None = None
    image_url: str | None = None
    venue: str | None = None
    when: str | None = None
    price_label: str | None = None
    why: str | None = None
    summary: str | None = None
    bookable: bool = False
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class TicketLine:
    name: str
    price_label: str
    available: bool
    note: str | None = None


@dataclass(frozen=True)
class SessionLine:
    label: str
    tickets: tuple[TicketLine, ...]


@dataclass(frozen=True)
class ActivityDetail:
    """An activity's full detail: sessions with their ticket types and prices."""

    title: str
    activity_id: str
    image_url: str | None = None
    venue: str | None = None
    place: str | None = None
    description: str | None = None
    price_label: str | None = None
    sessions: tuple[SessionLine, ...] = ()
    tips: tuple[str, ...] = ()
    booking_note: str | None = None
    prices_fresh: bool = False
    buttons: tuple[Button, ...] = ()
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    """A confirmation only `requester` may grant: the frozen snapshot, shown line by line."""

    approval_id: str
    title: str
    lines: tuple[str, ...]
    requester: str
    confirm: Button
    cancel: Button
    status: str = "pending"
    verb: str = "book"
    """What the confirm button does, for "Reply y to …" where there are no buttons."""
    until: str = "Nothing is booked until you press Confirm."
    subject: str = ""
    """What is confirmed, without the verb ("Blue Note Late Set"), for `settled_headline`."""


@dataclass(frozen=True, repr=False)
class FileAttachment:
    """One file a reply delivers (a CSV export, say). It may hold personal data, so its repr
    (logs, tracebacks, assertion messages) names it and its size, never its content."""

    filename: str
    content: bytes
    mime: str = "application/octet-stream"
    title: str | None = None

    def __post_init__(self) -> None:
        if len(self.content) > MAX_FILE_BYTES:
            raise ValueError(
                f"{self.filename!r} is {len(self.content)} bytes; a file may have"
                f" {MAX_FILE_BYTES} at most"
            )

    @property
    def size(self) -> int:
        return len(self.content)

    def __repr__(self) -> str:
        return f"FileAttachment(filename={self.filename!r}, size={self.size})"


@dataclass(frozen=True)
class Poll:
    """A vote among options: each option is a button whose value is pressed for a vote.

    Telegram shows it as a native non-anonymous poll (each answer comes back as a press of
    the option's value from the person who answered, `retract` when they take it back);
    elsewhere the options are the vote buttons already on the reply's cards, and the
    reply's text shows the counts. `closed`: the vote is over (Telegram stops the poll).
    """

    question: str
    options: tuple[Button, ...]
    retract: str = ""
    closed: bool = False


_DOING = {"book": "booking", "reserve": "reserving", "place the call": "calling"}
_DONE = {"book": "booked", "reserve": "reserved", "place the call": "called"}
_SETTLED = {"granted": "Confirmed", "rejected": "Cancelled", "expired": "Expired"}
_OWN_HEADLINES = {
    "approve": {"granted": "Approved: {subject}", "rejected": "Rejected: {subject}"},
    "send to the agency": {
        "granted": "Sent to the agency: {subject}",
        "rejected": "Cancelled: {subject} was not sent to the agency",
    },
}
"""Verbs whose settled card reads better in words of its own than in the pattern above."""
SETTLED_MARKS = {"granted": "✅ ", "rejected": "✖️ ", "expired": "⌛ "}
"""The mark before a settled card's headline, on every platform."""


def settled_headline(approval: ApprovalRequest) -> str:
    """The words a settled confirmation card starts with, the same on every platform:
    "Confirmed: booking Blue Note Late Set", "Cancelled: Blue Note Late Set was not booked"."""
    subject = approval.subject or approval.title.rstrip("?")
    own = _OWN_HEADLINES.get(approval.verb, {}).get(approval.status)
    if own is not None:
        return own.format(subject=subject)
    status = _SETTLED.get(approval.status, approval.status.capitalize())
    if approval.status == "granted":
        return f"{status}: {_DOING.get(approval.verb, approval.verb)} {subject}"
    return f"{status}: {subject} was not {_DONE.get(approval.verb, 'done')}"


@dataclass(frozen=True)
class Reply:
    """One message to post. Any combination of text, cards, a detail view and buttons.

    `key` names a message that later replies may replace in place (an approval that becomes
    "confirmed", say); `mention` is the chat user id to address the message to.

    `private_to` is the chat user id who alone may see the message (a payment link, personal
    data). Where the conversation is that person's own chat it is posted as usual; elsewhere
    the front-end shows it to that person only (Slack: an ephemeral message, else their DM;
    Telegram: their private chat, else a notice in the group without the content), never as
    a message everyone in the conversation can read. With `private_chat` it must be in
    their own chat with the bot (a question whose answer they type there): Slack posts it in
    their DM rather than as an ephemeral message.

    `file` is delivered with the text as its caption or comment. A file `private_to` someone
    goes to their own chat with the bot, never shown to the conversation (Slack cannot put a
    file in an ephemeral message); a file replaces nothing under `key`.
    """

    text: str = ""
    cards: tuple[ActivityCard, ...] = ()
    detail: ActivityDetail | None = None
    buttons: tuple[Button, ...] = ()
    footer: str | None = None
    approval: ApprovalRequest | None = None
    key: str | None = None
    mention: str | None = None
    private_to: str | None = None
    private_chat: bool = False
    file: FileAttachment | None = None
    poll: Poll | None = None


@dataclass(frozen=True)
class Progress:
    """A status line for long work, updated in place under the same `key` until `done`."""

    key: str
    text: str
    elapsed_s: float = 0.0
    done: bool = False


LINK = "link"
"""The value of a link button: Slack still reports the click, which changes nothing."""

BUTTON_EXPIRED = Reply(
    text="That button is no longer active. Ask me again and I'll show fresh options."
)


class TextStream(Protocol):
    """The model's text as it is written, for platforms that can show it growing."""

    async def append(self, delta: str) -> None: ...

    async def close(self) -> None: ...


class Replier(Protocol):
    """Bound to one conversation address by the front-end; the core never sees raw ids."""

    async def send(self, reply: Reply) -> None: ...

    async def progress(self, update: Progress) -> None: ...

    async def stream(self) -> TextStream | None:
        """A new text stream, or None where the platform cannot stream (one post instead)."""
        ...


class LazyStream:
    """Opens the replier's text stream on the first delta, so nothing is posted for a silent
    model turn; `shown` tells whether the text already reached the chat."""

    def __init__(self, replier: Replier) -> None:
        self._replier = replier
        self._stream: TextStream | None = None
        self._unsupported = False

    @property
    def shown(self) -> bool:
        return self._stream is not None

    async def append(self, delta: str) -> None:
        if self._unsupported or not delta:
            return
        if self._stream is None:
            self._stream = await self._replier.stream()
            if self._stream is None:
                self._unsupported = True
                return
        await self._stream.append(delta)

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
