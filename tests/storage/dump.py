"""Every value of every column of every table, as stored (no type decodes or decrypts it)."""

from __future__ import annotations

from sqlalchemy import text

from storage import Database
from storage.models import StorageModel


async def stored_values(db: Database) -> dict[str, list[str]]:
    """Table name → each stored value rendered as text (bytes as latin-1, so any clear text
    inside a blob shows)."""
    dump: dict[str, list[str]] = {}
    async with db.engine.connect() as connection:
        for table in StorageModel.metadata.sorted_tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table.name}"'))).all()  # noqa: S608 - our own table names
            dump[table.name] = [
                bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                for row in rows
                for v in row
                if v is not None
            ]
    return dump


def found_in(dump: dict[str, list[str]], needle: str) -> list[str]:
    """Where ``needle`` is stored in clear (``table`` names), case-insensitively."""
    lowered = needle.lower()
    return sorted({t for t, values in dump.items() for v in values if lowered in v.lower()})
