"""Button tokens: short ids for button values on platforms with tiny callback payloads."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ButtonToken, utc_now
from storage.repositories._common import dialect_insert

__all__ = ["load_button_token", "prune_button_tokens", "save_button_token"]

BUTTON_TOKEN_TTL = timedelta(days=30)


async def save_button_token(
    session: AsyncSession, *, token: str, value: str, chat_id: str, reply_key: str | None
) -> None:
    await session.exec(
        dialect_insert(session, ButtonToken)
        .values(
            token=token, value=value, chat_id=chat_id, reply_key=reply_key, created_at=utc_now()
        )
        .on_conflict_do_nothing(index_elements=["token"])
    )


async def load_button_token(
    session: AsyncSession, *, token: str, now: datetime | None = None
) -> ButtonToken | None:
    """The token's button, unless it is older than 30 days."""
    result = await session.exec(
        select(ButtonToken).where(
            col(ButtonToken.token) == token,
            col(ButtonToken.created_at) > (now or utc_now()) - BUTTON_TOKEN_TTL,
        )
    )
    return result.first()


async def prune_button_tokens(session: AsyncSession, *, now: datetime | None = None) -> int:
    result = await session.exec(
        delete(ButtonToken).where(
            col(ButtonToken.created_at) <= (now or utc_now()) - BUTTON_TOKEN_TTL
        )
    )
    return int(result.rowcount)
