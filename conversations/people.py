"""People: each chat identity's stable partner id, provisioned once and again on change.

The external user id is random (it says nothing about the person), kept in the `person` row;
the profile sent to partners is sealed at rest and compared by keyed fingerprint, so a
person is re-provisioned only when their profile actually changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from conversations.types import ConversationAddress, Sender
from storage import Database, FieldCipher, repositories
from storage.models import Person as PersonRow

PROFILE_FIELDS = ("display_name", "email", "phone", "timezone", "locale", "title")
PARTNER_FIELDS = ("display_name", "email", "phone")
"""What of a profile booking partners are sent: not the time zone or locale, which only read
dates and amounts, nor the job title, which only event introductions use (with approval)."""

ProfileSource = Callable[[ConversationAddress, Sender], Awaitable[Mapping[str, str]]]
"""What a front-end knows of a person beyond `Sender` (e.g. contact details the workspace
granted); only `PROFILE_FIELDS` are kept. It must not raise: {} when it knows nothing."""


@dataclass(frozen=True)
class Person:
    id: str
    external_user_id: str
    profile: dict[str, str]
    needs_provisioning: bool


class People:
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._db = db
        self._cipher = cipher
        # People already provisioned with exactly this profile, so a turn costs no write.
        self._known: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Person] = {}
        self._sources: dict[str, ProfileSource] = {}

    @property
    def cipher(self) -> FieldCipher:
        """What seals the people's data (their booking profiles use it too)."""
        return self._cipher

    def use_profiles(self, platform: str, source: ProfileSource) -> None:
        """Let a front-end complete the profiles of its platform's people."""
        self._sources[platform] = source

    async def _profile(self, address: ConversationAddress, sender: Sender) -> dict[str, str]:
        given = {"display_name": sender.display_name, "locale": sender.locale}
        profile = {k: v for k, v in given.items() if v}
        source = self._sources.get(address.platform)
        if source is not None:
            extra = await source(address, sender)
            profile.update(
                {k: v for k, v in extra.items() if k in PROFILE_FIELDS and isinstance(v, str) and v}
            )
        return profile

    async def lookup(self, address: ConversationAddress, sender: Sender) -> Person:
        """The person behind `sender`, noting whether partners must (re)learn their profile.

        A bare sender (a job acting for the person who asked, with only their user id) tells
        nothing new, so the stored profile stands rather than being emptied."""
        profile = await self._profile(address, sender)
        known = self._known.get(_cache_key(address, sender, profile))
        if known is not None:
            return known
        async with self._db.session() as session:
            row = await repositories.get_or_create_person(
                session,
                platform=address.platform,
                workspace_external_id=address.workspace_id,
                user_id=sender.user_id,
            )
            if not profile:
                stored = repositories.read_person_profile(row, cipher=self._cipher) or {}
                kept = {
                    k: v for k, v in stored.items() if k in PROFILE_FIELDS and isinstance(v, str)
                }
                return Person(row.id, row.external_user_id, kept, _stale(row))
            changed = await repositories.update_person_profile(
                session, person_id=row.id, profile=profile, cipher=self._cipher
            )
        person = Person(row.id, row.external_user_id, profile, changed or _stale(row))
        if not person.needs_provisioning:
            self._known[_cache_key(address, sender, profile)] = person
        return person

    async def provisioned(
        self, address: ConversationAddress, sender: Sender, person: Person
    ) -> None:
        async with self._db.session() as session:
            await repositories.mark_person_provisioned(session, person_id=person.id)
        settled = Person(person.id, person.external_user_id, person.profile, False)
        self._known[_cache_key(address, sender, person.profile)] = settled

    async def forget(self, address: ConversationAddress, sender: Sender) -> str:
        """Delete the person's profile and history here; their bookings at partners stay."""
        mine = _cache_key(address, sender, {})[:3]
        self._known = {k: v for k, v in self._known.items() if k[:3] != mine}
        async with self._db.session() as session:
            report = await repositories.forget_person(
                session,
                platform=address.platform,
                workspace_external_id=address.workspace_id,
                user_id=sender.user_id,
            )
        if not report.person and not report.messages:
            return "I had nothing stored about you here."
        return (
            f"Done. I deleted your profile and {_count(report.messages, 'stored message')} "
            f"({_count(report.conversations, 'private conversation')} cleared). Bookings you "
            "made stay with the partners that hold them."
        )


def _stale(row: PersonRow) -> bool:
    """Partners never learnt this person, or learnt them before their profile last changed."""
    return row.provisioned_at is None or row.updated_at > row.provisioned_at


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _cache_key(
    address: ConversationAddress, sender: Sender, profile: Mapping[str, str]
) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    return (address.platform, address.workspace_id, sender.user_id, tuple(sorted(profile.items())))


async def reading_of(
    people: People | None, address: ConversationAddress, sender: Sender
) -> tuple[str | None, str | None]:
    """The person's locale and time zone as their platform gave them (None when unknown),
    so amounts and times read their way."""
    if people is None:
        return None, None
    profile = (await people.lookup(address, sender)).profile
    return profile.get("locale") or None, profile.get("timezone") or None
