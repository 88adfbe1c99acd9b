"""Who of this chat would be shared with the Events partner, and exactly what of them.

Members are the people in the chat as its platform lists them (Slack's channel members),
or, where the platform cannot list them (a Telegram group), the people who have written in
the chat (any thread); less those who said "don't share me". Each is sent under their
stable random partner id (never a platform id), with the name their platform profile gives,
a job title where it gives one, and an e-mail only where the workspace granted it (the
profile source leaves it out otherwise). What is
shown for approval is sealed at rest and sent as shown.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from conversations.tools.context import ToolContext
from conversations.types import ConversationAddress, Sender
from integrations.events.models import AttendeeInput
from storage import FieldCipher
from storage.models import ChatEvent
from storage.repositories import chat_events


@dataclass(frozen=True)
class Member:
    user_id: str
    partner_id: str
    name: str
    email: str | None = None
    title: str | None = None

    def line(self) -> str:
        """How they are listed in the approval (the e-mail itself is never shown there)."""
        shown = f"• {self.name}" + (f", {self.title}" if self.title else "")
        return shown + (" (with their e-mail address)" if self.email else "")

    def attendee(self) -> AttendeeInput:
        return AttendeeInput(
            attendee_id=self.partner_id,
            name=self.name[:240],
            email=self.email,
            title=self.title[:512] if self.title else None,
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "user_id": self.user_id,
            "partner_id": self.partner_id,
            "name": self.name,
            "email": self.email,
            "title": self.title,
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> Member:
        return cls(
            user_id=str(data["user_id"]),
            partner_id=str(data["partner_id"]),
            name=str(data["name"]),
            email=data.get("email"),
            title=data.get("title"),
        )


@dataclass(frozen=True)
class Roster:
    members: tuple[Member, ...]
    opted_out: int = 0
    nameless: int = 0


async def roster(ctx: ToolContext, event: ChatEvent) -> Roster:
    """The members who would be shared now (in the platform's order, or the order they
    first wrote)."""
    async with ctx.deps.db.session(read_only=True) as session:
        where = {
            "platform": event.platform,
            "workspace_id": event.workspace_id,
            "chat_id": event.chat_id,
        }
        said = await chat_events.member_rows(session, **where)
        wrote = await chat_events.chat_senders(session, **where)
    here = ConversationAddress(event.platform, event.workspace_id, event.chat_id, "")
    listed = await ctx.deps.members.of(here)
    senders = listed if listed is not None else wrote
    people = ctx.deps.people
    members: list[Member] = []
    opted_out = nameless = 0
    for user_id in senders:
        if said.get(user_id) is not None and said[user_id].opted_out:
            opted_out += 1
            continue
        if people is None:
            nameless += 1
            continue
        person = await people.lookup(ctx.address, Sender(user_id))
        name = " ".join(person.profile.get("display_name", "").split())
        if not name:
            nameless += 1
            continue
        members.append(
            Member(
                user_id=user_id,
                partner_id=person.external_user_id,
                name=name,
                email=person.profile.get("email") or None,
                title=person.profile.get("title") or None,
            )
        )
    return Roster(tuple(members), opted_out, nameless)


def _aad(seal_id: str) -> bytes:
    return f"event-import:{seal_id}".encode()


def seal(cipher: FieldCipher, members: tuple[Member, ...]) -> tuple[str, str]:
    """(seal id, sealed members): what the approval shows and the import sends."""
    seal_id = uuid.uuid4().hex
    plain = json.dumps([m.to_json() for m in members]).encode()
    return seal_id, base64.b64encode(cipher.encrypt(plain, aad=_aad(seal_id))).decode()


def unseal(cipher: FieldCipher, seal_id: str, sealed: str) -> tuple[Member, ...]:
    plain = cipher.decrypt(base64.b64decode(sealed), aad=_aad(seal_id))
    return tuple(Member.from_json(row) for row in json.loads(plain))
