"""Button values behind Telegram's 64-byte `callback_data`, kept in the database so that
buttons posted before a restart still work (for 30 days)."""

from __future__ import annotations

from bot.telegram.memory import CallbackEntry
from storage import Database, repositories


class DatabaseCallbackStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, token: str, entry: CallbackEntry) -> None:
        async with self._db.session() as session:
            await repositories.save_button_token(
                session,
                token=token,
                value=entry.value,
                chat_id=entry.chat_id,
                reply_key=entry.reply_key,
            )

    async def load(self, token: str) -> CallbackEntry | None:
        async with self._db.session(read_only=True) as session:
            row = await repositories.load_button_token(session, token=token)
        return CallbackEntry(row.value, row.chat_id, row.reply_key) if row else None
