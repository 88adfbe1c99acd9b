"""Alembic environment for the concierge schema.

Run through ``storage.migrate`` (which builds the Alembic config in code): the URL and the
optional PostgreSQL schema arrive in ``config.attributes``. Migrations run in one
transaction; on SQLite it begins with ``BEGIN IMMEDIATE`` and on PostgreSQL it takes an
advisory lock, so processes starting together migrate one after the other.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

from storage.engine import build_engine, ensure_sqlite_dir
from storage.models import UTCDateTime, metadata
from storage.sealing import Sealed

# Any constant shared by every process that migrates this database.
_ADVISORY_LOCK_KEY = 0x636F6E63  # "conc"

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run through storage.migrate or python -m storage")
    return str(url)


def _render_item(type_: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Autogenerate plain SQLAlchemy types, so revisions never import sqlmodel or models."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String({obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, Sealed):
        return "sa.LargeBinary()"  # sealed values: ciphertext on disk
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_item=_render_item,
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        context.run_migrations()


async def _run_async_migrations() -> None:
    ensure_sqlite_dir(_url())  # env.py runs in a worker thread or the CLI, never on a loop
    engine = build_engine(_url(), schema=config.attributes.get("schema"), null_pool=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_async_migrations())
