"""Button values behind Telegram's short callback data survive a restart, for 30 days."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, update

from bot.telegram.callbacks import DatabaseCallbackStore
from bot.telegram.memory import CallbackEntry, new_callback_token
from storage import Database, repositories
from storage.models import ButtonToken, utc_now


async def test_a_button_outlives_the_process_that_posted_it(database: Database) -> None:
    token = new_callback_token()
    entry = CallbackEntry("approve:0123456789abcdef", "-1001", "approval:0123")
    await DatabaseCallbackStore(database).save(token, entry)
    restarted = DatabaseCallbackStore(database)  # a new process, same database
    assert await restarted.load(token) == entry
    assert await restarted.load(new_callback_token()) is None


async def test_old_buttons_expire_and_are_pruned(database: Database) -> None:
    store = DatabaseCallbackStore(database)
    token = new_callback_token()
    await store.save(token, CallbackEntry("more", "42"))
    async with database.session() as session:
        await session.exec(
            update(ButtonToken)
            .where(col(ButtonToken.token) == token)
            .values(created_at=utc_now() - timedelta(days=31))
        )
    assert await store.load(token) is None
    async with database.session() as session:
        assert await repositories.prune_button_tokens(session) == 1
