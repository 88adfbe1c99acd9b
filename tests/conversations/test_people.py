"""People's profiles: what a front-end adds to them, and re-provisioning when it changes."""

from __future__ import annotations

from collections.abc import Mapping

from conversations.people import People
from conversations.types import ConversationAddress, Sender
from storage import Database, FieldCipher, generate_key

ADA = Sender("U1", "Ada")
HERE = ConversationAddress("slack", "T1", "D1", "")


async def test_a_profile_source_completes_profiles_and_a_change_reprovisions(
    sqlite_database: Database,
) -> None:
    people = People(sqlite_database, FieldCipher(generate_key()))
    known = {"email": "ada@example.com", "phone": "+1 555 0100", "passport": "X1", "x": ""}

    async def source(address: ConversationAddress, sender: Sender) -> Mapping[str, str]:
        return dict(known)

    people.use_profiles("slack", source)
    first = await people.lookup(HERE, ADA)
    assert first.profile == {
        "display_name": "Ada",
        "email": "ada@example.com",
        "phone": "+1 555 0100",
    }
    assert first.needs_provisioning
    await people.provisioned(HERE, ADA, first)
    assert not (await people.lookup(HERE, ADA)).needs_provisioning

    known["email"] = "ada@new.example"
    changed = await people.lookup(HERE, ADA)
    assert changed.needs_provisioning and changed.profile["email"] == "ada@new.example"
    assert changed.external_user_id == first.external_user_id

    elsewhere = await people.lookup(ConversationAddress("telegram", "42", "42", ""), ADA)
    assert elsewhere.profile == {"display_name": "Ada"}  # no source for that platform


async def test_a_job_acting_for_a_person_keeps_their_stored_profile(
    sqlite_database: Database,
) -> None:
    """A job knows only the requester's user id: it reads their stored profile (name, locale)
    and neither empties it nor re-provisions them."""
    people = People(sqlite_database, FieldCipher(generate_key()))
    telegram = ConversationAddress("telegram", "42", "42", "")
    seen = Sender("42", "Ada", "de")
    first = await people.lookup(telegram, seen)
    assert first.profile == {"display_name": "Ada", "locale": "de"}
    await people.provisioned(telegram, seen, first)

    bare = await People(sqlite_database, people.cipher).lookup(telegram, Sender("42"))
    assert bare.profile == {"display_name": "Ada", "locale": "de"}
    assert not bare.needs_provisioning

    renamed = Sender("42", "Ada L.", "de")
    assert (await people.lookup(telegram, renamed)).needs_provisioning
    later = await people.lookup(telegram, Sender("42"))  # the job after the rename
    assert later.needs_provisioning and later.profile["display_name"] == "Ada L."
