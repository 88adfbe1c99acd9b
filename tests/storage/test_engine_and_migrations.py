from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from storage import Database, DatabaseUnavailable
from storage.engine import async_url
from storage.migrate import upgrade
from storage.models import metadata


def _diffs(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_models_and_upgrade_is_idempotent(
    database: Database,
) -> None:
    await upgrade(database.url, schema=database.schema)  # second run: a no-op
    await upgrade(database.url, schema=database.schema)
    async with database.engine.connect() as conn:
        assert await conn.run_sync(_diffs) == []
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        tables = set(await conn.run_sync(lambda c: c.dialect.get_table_names(c)))
    assert version == "0007"
    assert tables == {t.name for t in metadata.sorted_tables} | {"alembic_version"}


async def test_postgres_tables_live_in_the_test_schema(database: Database) -> None:
    if database.dialect != "postgresql":
        return
    async with database.session() as session:
        schema = await session.scalar(text("SELECT current_schema()"))
    assert schema == database.schema


async def test_sqlite_connection_settings(sqlite_database: Database) -> None:
    async with sqlite_database.engine.connect() as conn:
        assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
        assert await conn.scalar(text("PRAGMA busy_timeout")) == 5000


async def test_sqlite_foreign_keys_are_enforced(sqlite_database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from storage.repositories import NewMessage, append_messages

    with pytest.raises(IntegrityError):
        async with sqlite_database.session() as session:
            await append_messages(
                session, conversation_id="missing", messages=[NewMessage("user", [])]
            )


async def test_session_commits_or_rolls_back(database: Database) -> None:
    from storage.repositories import claim_event

    with pytest.raises(RuntimeError):
        async with database.session() as session:
            assert await claim_event(session, key="k:rollback", source="test")
            raise RuntimeError("boom")
    async with database.session() as session:
        assert await claim_event(session, key="k:rollback", source="test")
    async with database.session(read_only=True) as session:
        count = await session.scalar(
            text("SELECT count(*) FROM processed_event WHERE key = 'k:rollback'")
        )
    assert count == 1


async def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'c.db'}"
    await upgrade(url)
    db = await Database.create(url)
    try:
        assert db.dialect == "sqlite"
        assert (tmp_path / "a" / "b" / "c.db").exists()
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./.concierge/concierge.db", "sqlite+aiosqlite:///./.concierge/concierge.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://user@host:5433/db", "postgresql+asyncpg://user@host:5433/db"),
        ("postgres://user@host/db", "postgresql+asyncpg://user@host/db"),
        ("postgresql+asyncpg://user@host/db", "postgresql+asyncpg://user@host/db"),
    ],
)
def test_async_url(given: str, expected: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u:pw@h/db"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported") as info:
        async_url(url)
    assert "pw" not in str(info.value)


async def test_unreachable_database_fails_clearly_without_password() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        await Database.create("postgresql://someone:hunter2@127.0.0.1:1/nowhere")
    assert "127.0.0.1:1" in str(info.value)
    assert "hunter2" not in str(info.value)
