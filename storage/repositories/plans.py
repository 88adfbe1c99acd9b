"""Group plans' votes and "I'm in"s: one row per person and kind, upserted atomically."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PlanChoice, new_id, utc_now
from storage.repositories._common import dialect_insert

__all__ = ["choose", "list_choices", "unchoose"]


async def choose(
    session: AsyncSession,
    *,
    plan_id: str,
    kind: str,
    user_id: str,
    value: int,
    name: str | None,
    now: datetime | None = None,
) -> None:
    """Record ``user_id``'s vote or ticket choice, replacing their earlier one of that kind."""
    at = now or utc_now()
    statement = dialect_insert(session, PlanChoice).values(
        id=new_id(),
        plan_id=plan_id,
        kind=kind,
        user_id=user_id,
        value=value,
        name=name,
        updated_at=at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["plan_id", "kind", "user_id"],
        set_={"value": value, "name": name, "updated_at": at},
    )
    await session.exec(statement)


async def unchoose(session: AsyncSession, *, plan_id: str, kind: str, user_id: str) -> bool:
    """Take back ``user_id``'s vote or "I'm in"; False when there was none."""
    result = await session.exec(
        delete(PlanChoice).where(
            col(PlanChoice.plan_id) == plan_id,
            col(PlanChoice.kind) == kind,
            col(PlanChoice.user_id) == user_id,
        )
    )
    return bool(result.rowcount)


async def list_choices(session: AsyncSession, *, plan_id: str, kind: str) -> list[PlanChoice]:
    """Every choice of ``kind`` in the plan, oldest first (who was in first keeps a ticket)."""
    result = await session.exec(
        select(PlanChoice)
        .where(col(PlanChoice.plan_id) == plan_id, col(PlanChoice.kind) == kind)
        .order_by(col(PlanChoice.updated_at), col(PlanChoice.id))
    )
    return list(result.all())
