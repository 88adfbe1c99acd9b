"""Helpers shared by the repository modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

# Options for ORM UPDATE … RETURNING <entity>: refresh objects already in the session.
RETURNING_OPTIONS: dict[str, Any] = {"populate_existing": True, "synchronize_session": False}


def dialect_insert(session: AsyncSession, model: Any) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for the
    session's database (SQLite 3.24+ and PostgreSQL share the ``ON CONFLICT`` syntax)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def table_of(model: type[Any]) -> Table:
    """The model's Core table, for plain-row INSERTs that need no ORM bulk machinery (about
    half the CPU of an ORM insert of the same rows)."""
    table: Table = model.__table__
    return table


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"
