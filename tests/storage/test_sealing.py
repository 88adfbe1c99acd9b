"""People's words and data are sealed at rest: every column, both databases, old rows too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from storage import Database, FieldCipher, generate_key, repositories
from storage.crypto import DecryptionError
from storage.migrate import alembic_config, upgrade
from storage.repositories import NewMessage
from storage.sealing import NoCipher, cipher_for, seal_with
from tests.storage.databases import postgres_schema, postgres_url
from tests.storage.dump import found_in, stored_values
from tests.storage.sealed_rows import Planted, plant, read_back

PLANTED = Planted(
    words="Zephyrine Quillfeather wants oysters",
    email="zephyrine.q@example.org",
    partner_key="og_api_planted_0123456789abcdef",
    bot_token="xoxb-planted-4242-abcdefabcdef",
)


async def test_sealed_values_are_ciphertext_at_rest_and_read_back_in_clear(
    database: Database,
) -> None:
    cipher = cipher_for(database.engine.dialect)
    planted = await plant(database, cipher, PLANTED)
    dump = await stored_values(database)
    for value in (*planted.secrets, "Zephyrine", "oysters", "zephyrine.q"):
        assert found_in(dump, value) == [], value
    await read_back(database, cipher, planted)


async def test_a_database_without_a_cipher_refuses_sealed_columns(database: Database) -> None:
    bare = await Database.create(database.url, schema=database.schema)
    try:
        with pytest.raises(StatementError) as raised:
            async with bare.session() as session:
                await repositories.get_or_create_conversation(
                    session, platform="slack", workspace_id="T1", chat_id="D1"
                )
        assert isinstance(raised.value.orig, NoCipher)
    finally:
        await bare.dispose()


async def test_a_value_moved_to_another_column_does_not_open(database: Database) -> None:
    async with database.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session, platform="slack", workspace_id="T1", chat_id="D1"
        )
        await repositories.append_messages(
            session,
            conversation_id=conversation.id,
            messages=[NewMessage("user", [{"type": "text", "text": "hello"}])],
        )
    async with database.session() as session:
        await session.exec(
            text(  # type: ignore[call-overload]
                "UPDATE conversation SET state = (SELECT content FROM message LIMIT 1)"
            )
        )
    with pytest.raises(DecryptionError):
        async with database.session(read_only=True) as session:
            await repositories.find_conversation(
                session, platform="slack", workspace_id="T1", chat_id="D1"
            )


# ---- the migration ------------------------------------------------------------------------


@asynccontextmanager
async def _database_at(backend: str, tmp_path: Path, revision: str) -> AsyncIterator[Database]:
    """An empty database migrated to ``revision`` only (no cipher bound yet)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        await upgrade(url, revision=revision)
        db = await Database.create(url)
        try:
            yield db
        finally:
            await db.dispose()
        return
    async with postgres_schema() as schema:
        await upgrade(postgres_url(), schema=schema, revision=revision)
        db = await Database.create(postgres_url(), schema=schema)
        try:
            yield db
        finally:
            await db.dispose()


async def _downgrade(db: Database, revision: str, cipher: FieldCipher) -> None:
    config = alembic_config(db.url, schema=db.schema, cipher=cipher)
    await asyncio.to_thread(command.downgrade, config, revision)


OLD_ROWS = (
    "INSERT INTO conversation (id, platform, workspace_id, chat_id, thread_id, state, "
    "created_at, updated_at) VALUES ('c1', 'slack', 'T1', 'D1', '', "
    """'{"said": "Zephyrine Quillfeather"}', '2026-01-01', '2026-01-01')""",
    "INSERT INTO message (conversation_id, role, sender_id, content, created_at) VALUES "
    """('c1', 'user', 'U1', '[{"type": "text", "text": "oysters at eight"}]', '2026-01-01')""",
    "INSERT INTO person (id, platform, workspace_external_id, user_id, external_user_id, "
    "display_name, created_at, updated_at) VALUES ('p1', 'slack', 'T1', 'U1', 'x1', "
    "'Zephyrine Quillfeather', '2026-01-01', '2026-01-01')",
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_the_migration_seals_rows_already_stored_and_the_downgrade_opens_them(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONCIERGE_SECRET_KEY", raising=False)
    cipher = FieldCipher(generate_key())
    async with _database_at(backend, tmp_path, "0005") as db:
        async with db.engine.begin() as connection:
            for insert in OLD_ROWS:
                await connection.execute(text(insert))
        with pytest.raises(RuntimeError, match="CONCIERGE_SECRET_KEY"):
            await upgrade(db.url, schema=db.schema)  # rows to seal and no key: stop
        await upgrade(db.url, schema=db.schema, cipher=cipher)
        seal_with(db, cipher)
        dump = await stored_values(db)
        for value in ("Zephyrine", "oysters"):
            assert found_in(dump, value) == [], value
        async with db.session(read_only=True) as session:
            conversation = await repositories.find_conversation(
                session, platform="slack", workspace_id="T1", chat_id="D1"
            )
            assert conversation is not None
            assert conversation.state == {"said": "Zephyrine Quillfeather"}
            (said,) = await repositories.recent_messages(session, conversation_id="c1", limit=5)
            assert said.content == [{"type": "text", "text": "oysters at eight"}]
            person = await repositories.get_person(
                session, person_id="p1", workspace_external_id="T1"
            )
            assert person is not None and person.display_name == "Zephyrine Quillfeather"

        await _downgrade(db, "0005", cipher)
        async with db.engine.connect() as connection:
            state = (await connection.execute(text("SELECT state FROM conversation"))).scalar()
            name = (await connection.execute(text("SELECT display_name FROM person"))).scalar()
        assert "Zephyrine Quillfeather" in str(state) and name == "Zephyrine Quillfeather"
