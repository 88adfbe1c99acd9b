"""Migrated throw-away databases for tests (used by the fixtures in ``tests/conftest.py``).

PostgreSQL comes from ``$CONCIERGE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); every database gets its own schema
``t_<hex>`` (on the connection's ``search_path``), dropped afterwards, so parallel runs never
collide. An unreachable server fails the test with a clear message; it is never skipped.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.crypto import FieldCipher, generate_key
from storage.engine import Database, redact_url
from storage.migrate import upgrade
from storage.sealing import cipher_for, seal_with

POSTGRES_URL_ENV = "CONCIERGE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


async def _admin_connection(url: str) -> asyncpg.Connection:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is unreachable at {redact_url(url)} ({type(exc).__name__}: {exc}). "
            f"Start it, or point ${POSTGRES_URL_ENV} at a server where this user may create "
            "schemas. Storage tests run on both databases and are never skipped.",
            pytrace=False,
        )


@asynccontextmanager
async def postgres_schema(url: str | None = None) -> AsyncIterator[str]:
    """A fresh, empty schema ``t_<hex>`` that is dropped (with its tables) afterwards."""
    url = url or postgres_url()
    schema = f"t_{secrets.token_hex(8)}"
    conn = await _admin_connection(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        yield schema
    finally:
        conn = await _admin_connection(url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@asynccontextmanager
async def postgres_database(prefix: str, server: str | None = None) -> AsyncIterator[str]:
    """The URL of a fresh, empty database on the test server (or on `server`), dropped
    afterwards (for code that migrates a URL itself, like `serve`)."""
    server = server or postgres_url()
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await _admin_connection(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _admin_connection(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def migrated_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated ``Database`` on ``backend`` ("sqlite": a file under ``tmp_path``)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'concierge.db'}"
        await upgrade(url)
        db = await Database.create(url)
        seal_with(db, FieldCipher(generate_key()))
        try:
            yield db
        finally:
            await db.dispose()
    elif backend == "postgresql":
        url = postgres_url()
        async with postgres_schema(url) as schema:
            await upgrade(url, schema=schema)
            db = await Database.create(url, schema=schema)
            seal_with(db, FieldCipher(generate_key()))
            try:
                yield db
            finally:
                await db.dispose()
    else:
        raise ValueError(f"unknown backend {backend!r}")


async def second_database(db: Database) -> Database:
    """Another engine on the same database and schema (like a second process)."""
    second = await Database.create(db.url, schema=db.schema)
    seal_with(second, cipher_for(db.engine.dialect))
    return second


__all__ = [
    "BACKENDS",
    "DEFAULT_POSTGRES_URL",
    "POSTGRES_URL_ENV",
    "migrated_database",
    "postgres_schema",
    "postgres_url",
    "second_database",
]
