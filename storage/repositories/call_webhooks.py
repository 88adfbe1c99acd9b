"""Call Agent webhooks: one per API key, found again by the token in its URL."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CallWebhook, utc_now

__all__ = ["find_call_webhook", "get_call_webhook", "save_call_webhook"]


async def get_call_webhook(session: AsyncSession, *, key_fingerprint: str) -> CallWebhook | None:
    return await session.get(CallWebhook, key_fingerprint, populate_existing=True)


async def find_call_webhook(session: AsyncSession, *, token_hash: str) -> CallWebhook | None:
    """The webhook whose URL carries the token hashing to ``token_hash``."""
    result = await session.exec(
        select(CallWebhook).where(col(CallWebhook.token_hash) == token_hash)
    )
    return result.first()


async def save_call_webhook(
    session: AsyncSession,
    *,
    key_fingerprint: str,
    token_hash: str,
    secret_ciphertext: bytes,
    url: str,
) -> CallWebhook:
    """Keep (or replace) the key's webhook: the partner rotated the secret with it."""
    row = await session.get(CallWebhook, key_fingerprint, populate_existing=True)
    if row is None:
        row = CallWebhook(
            key_fingerprint=key_fingerprint, token_hash="", secret_ciphertext=b"", url=""
        )
    row.token_hash = token_hash
    row.secret_ciphertext = secret_ciphertext
    row.url = url
    row.created_at = utc_now()
    session.add(row)
    await session.flush()
    return row
