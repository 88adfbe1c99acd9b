"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Database
from tests.storage.databases import migrated_database, postgres_database


# --- storage -------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated ``Database``, once on SQLite (a file in ``tmp_path``) and once on
    PostgreSQL (a throw-away schema at $CONCIERGE_TEST_POSTGRES_URL; fails if unreachable)."""
    async with migrated_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for code that migrates a database itself (`serve`): a SQLite file in `tmp_path`,
    and a throw-away database on the PostgreSQL server (fails if unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'serve.db'}"
        return
    async with postgres_database("serve") as url:
        yield url


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated SQLite ``Database`` (a file in ``tmp_path``), for fast tests."""
    async with migrated_database("sqlite", tmp_path) as db:
        yield db


# --- model ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _model_stays_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Anthropic adapter refuses to send anything beyond loopback during tests."""
    import integrations.anthropic_llm

    monkeypatch.setattr(integrations.anthropic_llm, "ALLOW_ONLY_LOOPBACK", True)
    for name in ("ANTHROPIC_API_KEY", "SLACK_CLIENT_ID", "OUTGOING_API_KEY"):
        monkeypatch.delenv(name, raising=False)
