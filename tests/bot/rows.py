"""How many rows each table holds: "nothing changed" is the same counts before and after."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from storage import Database
from storage.models import StorageModel


async def row_counts(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with db.session(read_only=True) as session:
        for table in StorageModel.metadata.sorted_tables:
            found = await session.exec(select(func.count()).select_from(table))
            counts[table.name] = int(found.one())
    return counts
