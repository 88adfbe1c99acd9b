"""People: chat identities, their stable partner id and their sealed profile."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import FieldCipher, field_aad
from storage.models import (
    Action,
    Approval,
    Conversation,
    Message,
    Person,
    PlanChoice,
    new_id,
    utc_now,
)
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert

__all__ = [
    "ForgetReport",
    "forget_person",
    "get_or_create_person",
    "get_person",
    "mark_person_provisioned",
    "read_booking_profile",
    "read_person_profile",
    "save_booking_profile",
    "update_person_profile",
]


async def get_or_create_person(
    session: AsyncSession,
    *,
    platform: str,
    workspace_external_id: str,
    user_id: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> Person:
    """The person for this chat identity, created (with a new ``external_user_id``) if
    missing; race-safe. A changed ``display_name`` is written through."""
    now = now or utc_now()
    await session.exec(
        dialect_insert(session, Person)
        .values(
            id=new_id(),
            platform=platform,
            workspace_external_id=workspace_external_id,
            user_id=user_id,
            external_user_id=new_id(),
            display_name=display_name,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["platform", "workspace_external_id", "user_id"])
    )
    result = await session.exec(
        select(Person).where(
            col(Person.platform) == platform,
            col(Person.workspace_external_id) == workspace_external_id,
            col(Person.user_id) == user_id,
        )
    )
    person = result.one()
    if display_name is not None and person.display_name != display_name:
        person.display_name = display_name
        person.updated_at = now
        await session.flush()
    return person


async def get_person(
    session: AsyncSession, *, person_id: str, workspace_external_id: str
) -> Person | None:
    """A person by id, only within ``workspace_external_id`` (None across tenants)."""
    result = await session.exec(
        select(Person).where(
            col(Person.id) == person_id,
            col(Person.workspace_external_id) == workspace_external_id,
        )
    )
    return result.first()


def _profile_aad(person_id: str) -> bytes:
    return field_aad("person", "profile", person_id)


async def update_person_profile(
    session: AsyncSession,
    *,
    person_id: str,
    profile: Mapping[str, Any],
    cipher: FieldCipher,
    now: datetime | None = None,
) -> bool:
    """Seal and store the person's profile (JSON). Returns True when it changed, i.e. when
    its keyed fingerprint (``profile_hash``) differs from the stored one."""
    plaintext = json.dumps(dict(profile), sort_keys=True, separators=(",", ":")).encode()
    fingerprint = cipher.fingerprint(plaintext)
    result = await session.exec(
        update(Person)
        .where(
            col(Person.id) == person_id,
            (col(Person.profile_hash).is_(None)) | (col(Person.profile_hash) != fingerprint),
        )
        .values(
            profile_ciphertext=cipher.encrypt(plaintext, aad=_profile_aad(person_id)),
            profile_hash=fingerprint,
            updated_at=now or utc_now(),
        )
        .returning(Person)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.first() is not None


def read_person_profile(person: Person, *, cipher: FieldCipher) -> dict[str, Any] | None:
    """The person's profile in clear, or None if none is stored."""
    if person.profile_ciphertext is None:
        return None
    plaintext = cipher.decrypt(person.profile_ciphertext, aad=_profile_aad(person.id))
    return cast(dict[str, Any], json.loads(plaintext))


async def mark_person_provisioned(
    session: AsyncSession, *, person_id: str, now: datetime | None = None
) -> bool:
    """Record that the partners now know this person's current profile."""
    result = await session.exec(
        update(Person)
        .where(col(Person.id) == person_id)
        .values(provisioned_at=now or utc_now())
        .returning(Person)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.first() is not None


@dataclass(frozen=True)
class ForgetReport:
    person: bool
    messages: int
    conversations: int


async def forget_person(
    session: AsyncSession, *, platform: str, workspace_external_id: str, user_id: str
) -> ForgetReport:
    """Delete a person's profile and what they said in this workspace. Conversations where
    they were the only one talking (their DMs) lose their whole history and state; in shared
    threads only their own messages go. Pending approvals they asked for are rejected; their
    name leaves the group plans' votes."""
    in_workspace = select(col(Conversation.id)).where(
        col(Conversation.platform) == platform,
        col(Conversation.workspace_id) == workspace_external_id,
    )
    theirs = (
        select(col(Message.conversation_id))
        .where(col(Message.sender_id) == user_id, col(Message.conversation_id).in_(in_workspace))
        .distinct()
    )
    shared = (
        select(col(Message.conversation_id))
        .where(
            col(Message.conversation_id).in_(theirs),
            col(Message.sender_id).is_not(None),
            col(Message.sender_id) != user_id,
        )
        .distinct()
    )
    private = list(
        (await session.exec(theirs.where(col(Message.conversation_id).not_in(shared)))).all()
    )
    removed = await session.exec(
        delete(Message).where(
            col(Message.conversation_id).in_(in_workspace),
            (col(Message.sender_id) == user_id) | col(Message.conversation_id).in_(private),
        )
    )
    if private:
        await session.exec(
            update(Conversation).where(col(Conversation.id).in_(private)).values(state={})
        )
    await session.exec(
        update(Approval)
        .where(
            col(Approval.requested_by) == user_id,
            col(Approval.workspace_id) == workspace_external_id,
            col(Approval.status) == "pending",
        )
        .values(status="rejected", resolved_at=utc_now(), resolved_by=user_id)
    )
    plans_here = select(col(Action.id)).where(
        col(Action.platform) == platform, col(Action.workspace_id) == workspace_external_id
    )
    await session.exec(  # their votes still count, as "someone"
        update(PlanChoice)
        .where(col(PlanChoice.user_id) == user_id, col(PlanChoice.plan_id).in_(plans_here))
        .values(name=None)
    )
    person = await session.exec(
        delete(Person).where(
            col(Person.platform) == platform,
            col(Person.workspace_external_id) == workspace_external_id,
            col(Person.user_id) == user_id,
        )
    )
    return ForgetReport(int(person.rowcount) > 0, int(removed.rowcount), len(private))


def _booking_aad(person_id: str) -> bytes:
    return field_aad("person", "booking_profile_ciphertext", person_id)


async def save_booking_profile(
    session: AsyncSession, *, person_id: str, profile: Mapping[str, str], cipher: FieldCipher
) -> None:
    """Seal and keep what the person's reservations are made under."""
    plaintext = json.dumps(dict(profile), sort_keys=True).encode()
    await session.exec(
        update(Person)
        .where(col(Person.id) == person_id)
        .values(
            booking_profile_ciphertext=cipher.encrypt(plaintext, aad=_booking_aad(person_id)),
            updated_at=utc_now(),
        )
    )


def read_booking_profile(person: Person, *, cipher: FieldCipher) -> dict[str, str]:
    """The person's booking profile in clear ({} when none is kept)."""
    if person.booking_profile_ciphertext is None:
        return {}
    plaintext = cipher.decrypt(person.booking_profile_ciphertext, aad=_booking_aad(person.id))
    return {str(k): str(v) for k, v in json.loads(plaintext).items()}
