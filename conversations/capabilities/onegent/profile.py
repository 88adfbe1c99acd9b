"""Who a reservation is made under: first and last name, e-mail and phone (E.164).

What the person gave before is kept sealed in their booking profile; what the chat platform
knows (their name, and e-mail or phone where the workspace shares them) fills the gaps and is
shown on the confirmation; what is still missing is asked once, with a word on keeping it.
Nothing of it goes into a job's payload or a log line: a job reads it when it sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from conversations.capabilities.onegent.fields import FieldProblem
from conversations.tools.context import ToolDeps
from conversations.types import ConversationAddress, Sender
from storage import repositories

ASKED = ("name", "email", "phone")
KEEPING = "I'll keep it sealed for your next reservations (say “forget me” to delete it)."
PROMPTS = {
    "name": "What name should the reservation be under? (first and last name)",
    "email": "Which e-mail address should the confirmation go to?",
    "phone": "Which phone number can the venue reach you on? (with its country code, e.g. +1 …)",
}


@dataclass(frozen=True)
class BookingProfile:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""

    def __repr__(self) -> str:  # personal data stays out of logs
        return "BookingProfile(***)"

    def missing(self) -> list[str]:
        gaps = []
        if not (self.first_name and self.last_name):
            gaps.append("name")
        if not self.email:
            gaps.append("email")
        if not self.phone:
            gaps.append("phone")
        return gaps

    def shown(self) -> str:
        return f"{self.first_name} {self.last_name} · {self.email} · {self.phone}"

    def to_partner(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
        }


def read_answer(field: str, text: str) -> dict[str, str]:
    """The profile fields an answer gives, or `FieldProblem` saying what would do."""
    cleaned = " ".join(text.split())
    if field == "name":
        parts = cleaned.split(" ")
        if len(parts) < 2 or len(cleaned) > 120:
            raise FieldProblem("Please give a first and a last name.")
        return {"first_name": " ".join(parts[:-1]), "last_name": parts[-1]}
    if field == "email":
        if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}", cleaned):
            raise FieldProblem("That doesn't look like an e-mail address.")
        return {"email": cleaned}
    phone = _e164(cleaned)
    if phone is None:
        raise FieldProblem("Please give the number with its country code, e.g. +1 212 555 0100.")
    return {"phone": phone}


def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def load(deps: ToolDeps, address: ConversationAddress, sender: Sender) -> BookingProfile:
    """The kept booking profile, its gaps filled from what the platform knows."""
    if deps.people is None:
        return BookingProfile()
    person = await deps.people.lookup(address, sender)
    async with deps.db.session(read_only=True) as session:
        row = await repositories.get_person(
            session, person_id=person.id, workspace_external_id=address.workspace_id
        )
    kept = (
        repositories.read_booking_profile(row, cipher=deps.people.cipher) if row is not None else {}
    )
    platform = person.profile
    name = (platform.get("display_name") or "").split()
    phone = _e164(platform.get("phone", "")) or ""
    return BookingProfile(
        first_name=kept.get("first_name") or (" ".join(name[:-1]) if len(name) > 1 else ""),
        last_name=kept.get("last_name") or (name[-1] if len(name) > 1 else ""),
        email=kept.get("email") or platform.get("email", ""),
        phone=kept.get("phone") or phone,
    )


async def keep(
    deps: ToolDeps, address: ConversationAddress, sender: Sender, changes: dict[str, str]
) -> None:
    """Add what the person just gave to their sealed booking profile."""
    if deps.people is None:
        return
    person = await deps.people.lookup(address, sender)
    async with deps.db.session() as session:
        row = await repositories.get_person(
            session, person_id=person.id, workspace_external_id=address.workspace_id
        )
        if row is None:
            return
        kept = repositories.read_booking_profile(row, cipher=deps.people.cipher)
        await repositories.save_booking_profile(
            session, person_id=row.id, profile={**kept, **changes}, cipher=deps.people.cipher
        )
