"""Fixtures for the Telegram front-end tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.storage.databases import _admin_connection, postgres_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'telegram.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for `serve` on SQLite (a file in `tmp_path`) and on PostgreSQL (a throw-away
    database on the server at $CONCIERGE_TEST_POSTGRES_URL, dropped afterwards): `serve`
    takes a URL and migrates it itself."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'telegram.db'}"
        return
    server = postgres_url()
    name = f"telegram_{secrets.token_hex(6)}"
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
