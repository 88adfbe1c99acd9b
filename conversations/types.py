"""Channel-agnostic inbound types: who said what, where.

A front-end builds these once from its raw payload; everything after that is keyed
by the `ConversationAddress` and never sees a Slack or Telegram id format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationAddress:
    """Where a conversation lives: one Slack thread, one Telegram topic, one console session."""

    platform: str
    workspace_id: str
    chat_id: str
    thread_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace_id}:{self.chat_id}:{self.thread_id}"


@dataclass(frozen=True)
class Sender:
    """The person behind a message, as the chat platform identifies them."""

    user_id: str
    display_name: str | None = None
    locale: str | None = None
    """The language the platform says the person uses (Telegram's `language_code`), which
    only reads amounts and dates; None where the platform tells it another way."""


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lng: float


@dataclass(frozen=True)
class InboundMessage:
    """One message to the concierge. `event_id` is the platform's dedupe key; `private`
    says it came in the sender's own chat with the bot (a Slack DM, a Telegram private
    chat, the terminal), where private questions are answered."""

    address: ConversationAddress
    sender: Sender
    text: str
    event_id: str
    location: GeoPoint | None = None
    private: bool = False


@dataclass(frozen=True)
class ButtonPress:
    """A click on one of our buttons. `value` is the opaque id the button carried."""

    address: ConversationAddress
    sender: Sender
    value: str
    event_id: str


Inbound = InboundMessage | ButtonPress
