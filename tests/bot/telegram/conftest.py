"""Fixtures for the Telegram front-end tests (`database_url` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.telegram.harness import TelegramRig, running_telegram


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'telegram.db'}"


@pytest.fixture
async def rig(sqlite_url: str) -> AsyncIterator[TelegramRig]:
    """The Telegram front-end in `serve` (webhook mode, offline planner) on SQLite."""
    async with running_telegram(None, database_url=sqlite_url) as running:
        yield running
