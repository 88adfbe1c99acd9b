"""Channel-agnostic output. Each front-end has exactly one renderer from these types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ButtonStyle = Literal["default", "primary", "danger"]


@dataclass(frozen=True)
class Button:
    """A button whose `value` is an opaque id resolved on our side, never trusted as data."""

    label: str
    value: str
    style: ButtonStyle = "default"


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


@dataclass(frozen=True)
class Reply:
    """One message to post. Any combination of text, cards, a detail view and buttons."""

    text: str = ""
    cards: tuple[ActivityCard, ...] = ()
    detail: ActivityDetail | None = None
    buttons: tuple[Button, ...] = ()
    footer: str | None = None


@dataclass(frozen=True)
class Progress:
    """A status line for long work, updated in place under the same `key` until `done`."""

    key: str
    text: str
    elapsed_s: float = 0.0
    done: bool = False


class Replier(Protocol):
    """Bound to one conversation address by the front-end; the core never sees raw ids."""

    async def send(self, reply: Reply) -> None: ...

    async def progress(self, update: Progress) -> None: ...
