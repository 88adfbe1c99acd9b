"""Run Alembic migrations programmatically (no ``alembic.ini`` on disk).

``await upgrade(url)`` is safe on every start and when called twice in a row; it runs Alembic
in a worker thread (with its own event loop and a short-lived engine), so it never blocks the
caller's event loop. For other Alembic commands during development::

    uv run python -m storage upgrade [URL]
    uv run python -m storage revision -m "add things" [URL]   # autogenerates
    uv run python -m storage current|history [URL]

URL defaults to ``$CONCIERGE_DATABASE_URL`` or ``sqlite:///./.concierge/concierge.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.crypto import FieldCipher

__all__ = ["DEFAULT_URL", "alembic_config", "upgrade"]

DEFAULT_URL = "sqlite:///./.concierge/concierge.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(
    url: str, *, schema: str | None = None, cipher: FieldCipher | None = None
) -> Config:
    """An Alembic ``Config`` for ``url``, built in code. ``schema`` (PostgreSQL) is put on the
    ``search_path`` of the migration connection, so tables and ``alembic_version`` land in it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["schema"] = schema
    config.attributes["cipher"] = cipher  # seals existing rows (v0006)
    return config


def _upgrade_sync(
    url: str, schema: str | None, revision: str, cipher: FieldCipher | None = None
) -> None:
    command.upgrade(alembic_config(url, schema=schema, cipher=cipher), revision)


async def upgrade(
    url: str,
    *,
    schema: str | None = None,
    revision: str = "head",
    cipher: FieldCipher | None = None,
) -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest). ``cipher`` seals
    rows written before their columns were sealed (without it, ``CONCIERGE_SECRET_KEY``)."""
    await asyncio.to_thread(_upgrade_sync, url, schema, revision, cipher)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m storage")
    parser.add_argument("command", choices=["upgrade", "revision", "current", "history"])
    parser.add_argument("url", nargs="?", default=None)
    parser.add_argument("-m", "--message", default="change")
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("CONCIERGE_DATABASE_URL") or DEFAULT_URL
    config = alembic_config(url)
    if args.command == "upgrade":
        _upgrade_sync(url, None, "head")
    elif args.command == "revision":
        command.revision(config, message=args.message, autogenerate=True)
    elif args.command == "current":
        command.current(config)
    else:
        command.history(config)
