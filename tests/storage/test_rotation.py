"""`rotate_all`: after it, the new key alone opens everything; it is idempotent, leaves what
it cannot open alone, and loses nothing written while it runs."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage import Database, FieldCipher, generate_key, repositories
from storage.repositories import NewMessage
from storage.rotation import rotate_all
from storage.sealing import seal_with
from tests.storage.sealed_rows import Planted, plant, read_back
from tests.storage.test_sealing import PLANTED

OLD, NEW = generate_key(), generate_key()


async def test_after_a_rotation_the_new_key_alone_opens_everything(database: Database) -> None:
    old = FieldCipher(OLD)
    seal_with(database, old)
    planted = await plant(database, old, PLANTED)

    both = FieldCipher(NEW, previous=OLD)
    seal_with(database, both)
    report = await rotate_all(database, both)
    assert report.unreadable == 0
    resealed = {name: count.resealed for name, count in report.places.items()}
    assert resealed == {
        "person.display_name": 1,
        "conversation.state": 1,
        "message.content": 2,
        "action.payload": 1,
        "action.result": 1,
        "action.error": 1,
        "approval.snapshot": 1,
        "outbox_message.payload": 1,
        "pending_question.prompt": 1,
        "pending_question.options": 1,
        "pending_question.context": 1,
        "pending_question.default_value": 1,
        "pending_question.answer": 1,
        "call_webhook.url": 1,
        "chat_event.title": 1,
        "plan_choice.name": 1,
        "person.profile_ciphertext": 1,
        "person.booking_profile_ciphertext": 1,
        "workspace_credential.key_ciphertext": 1,
        "installation.bot_token_ciphertext": 1,
        "installation.refresh_token_ciphertext": 1,
        "call_webhook.secret_ciphertext": 1,
        "processed_event.payload": 1,
    }

    new_only = FieldCipher(NEW)
    seal_with(database, new_only)
    await read_back(database, new_only, planted)
    async with database.session(read_only=True) as session:
        person = await repositories.get_person(
            session, person_id=planted.person_id, workspace_external_id="T1"
        )
    assert person is not None  # its fingerprint follows the key: no needless re-provisioning
    async with database.session() as session:
        changed = await repositories.update_person_profile(
            session, person_id=person.id, profile={"email": PLANTED.email}, cipher=new_only
        )
    assert changed is False

    again = await rotate_all(database, new_only)
    assert again.resealed == 0 and again.unreadable == 0
    assert again.places["message.content"].current == 2


async def test_values_no_configured_key_opens_are_reported_and_left_alone(
    database: Database,
) -> None:
    lost = FieldCipher(generate_key())
    seal_with(database, lost)
    await plant(database, lost, PLANTED)
    async with database.engine.connect() as connection:
        before = (await connection.execute(text("SELECT content FROM message"))).scalars().all()

    current = FieldCipher(NEW, previous=OLD)
    seal_with(database, current)
    report = await rotate_all(database, current)
    assert report.resealed == 0
    assert report.places["message.content"].unreadable == 2
    async with database.engine.connect() as connection:
        after = (await connection.execute(text("SELECT content FROM message"))).scalars().all()
    assert after == before


async def test_writes_during_a_rotation_are_kept_and_readable_with_the_new_key(
    database: Database,
) -> None:
    old = FieldCipher(OLD)
    seal_with(database, old)
    async with database.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session, platform="slack", workspace_id="T1", chat_id="D1"
        )
        await repositories.append_messages(
            session,
            conversation_id=conversation.id,
            messages=[
                NewMessage("user", [{"type": "text", "text": f"old {n}"}]) for n in range(60)
            ],
        )
    both = FieldCipher(NEW, previous=OLD)
    seal_with(database, both)  # `serve` restarted with both keys, writing with the new one

    async def keep_talking() -> None:
        for n in range(30):
            async with database.session() as session:
                await repositories.append_messages(
                    session,
                    conversation_id=conversation.id,
                    messages=[NewMessage("user", [{"type": "text", "text": f"new {n}"}])],
                )
                await repositories.merge_conversation_state(
                    session, conversation_id=conversation.id, changes={"turn": n}
                )
            await asyncio.sleep(0)

    report, _ = await asyncio.gather(rotate_all(database, both, page=7), keep_talking())
    assert report.unreadable == 0 and report.places["message.content"].resealed == 60

    seal_with(database, FieldCipher(NEW))
    async with database.session(read_only=True) as session:
        history = await repositories.recent_messages(
            session, conversation_id=conversation.id, limit=200
        )
        found = await repositories.find_conversation(
            session, platform="slack", workspace_id="T1", chat_id="D1"
        )
    said = [m.content[0]["text"] for m in history]
    assert said == [f"old {n}" for n in range(60)] + [f"new {n}" for n in range(30)]
    assert found is not None and found.state == {"turn": 29}


async def test_a_planted_run_reports_counts_per_place(database: Database) -> None:
    old = FieldCipher(OLD)
    seal_with(database, old)
    await plant(database, old, Planted("words", "e@example.org", "og_api_x", "xoxb-x"))
    report = await rotate_all(database, FieldCipher(NEW, previous=OLD))
    assert "message.content: 2 re-sealed, 0 already current" in report.lines()
