"""Fixtures for the Slack front-end tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.bot.slack.harness import sqlite_url
from tests.storage.databases import _admin_connection, postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for `serve` on SQLite (a file in `tmp_path`) and on PostgreSQL (a throw-away
    database on the server at $CONCIERGE_TEST_POSTGRES_URL, dropped afterwards). `serve`
    takes a URL and migrates it itself, so this is a database rather than a schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = postgres_url()
    name = f"slack_{secrets.token_hex(6)}"
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
