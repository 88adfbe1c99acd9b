"""People: each chat identity's stable partner id, provisioned once and again on change.

The external user id is random (it says nothing about the person), kept in the `person` row;
the profile sent to partners is sealed at rest and compared by keyed fingerprint, so a
person is re-provisioned only when their profile actually changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.types import ConversationAddress, Sender
from storage import Database, FieldCipher, repositories


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

    async def lookup(self, address: ConversationAddress, sender: Sender) -> Person:
        """The person behind `sender`, noting whether partners must (re)learn their profile."""
        profile = {"display_name": sender.display_name} if sender.display_name else {}
        async with self._db.session() as session:
            row = await repositories.get_or_create_person(
                session,
                platform=address.platform,
                workspace_external_id=address.workspace_id,
                user_id=sender.user_id,
            )
            changed = await repositories.update_person_profile(
                session, person_id=row.id, profile=profile, cipher=self._cipher
            )
        return Person(row.id, row.external_user_id, profile, changed or row.provisioned_at is None)

    async def provisioned(self, person: Person) -> None:
        async with self._db.session() as session:
            await repositories.mark_person_provisioned(session, person_id=person.id)

    async def forget(self, address: ConversationAddress, sender: Sender) -> str:
        """Delete the person's profile and history here; their bookings at partners stay."""
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
            f"Done. I deleted your profile and {report.messages} stored messages "
            f"({report.conversations} private conversations cleared). Bookings you made stay "
            "with the partners that hold them."
        )
