"""The agency's signed-in session, sealed in the database: a restart (or another replica)
carries on with it, so a 2FA login's code is asked once, not after every deploy."""

from __future__ import annotations

import base64
import binascii

import pydantic

from integrations.voyagent import TokenPair
from storage import Database, FieldCipher, field_aad, repositories
from storage.crypto import DecryptionError

NOTE = "session"
PLATFORM = "voyagent"


class SealedTokens:
    """A `TokenStore` keyed by the login's fingerprint (never by the e-mail)."""

    def __init__(self, db: Database, cipher: FieldCipher, fingerprint: str) -> None:
        self._db = db
        self._cipher = cipher
        self._scope = fingerprint
        self._aad = field_aad("chat_note", "value", f"{PLATFORM}:{fingerprint}")

    def __repr__(self) -> str:
        return f"SealedTokens({self._scope!r})"

    async def load(self) -> TokenPair | None:
        async with self._db.session(read_only=True) as session:
            value = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=self._scope, name=NOTE
            )
        if value is None:
            return None
        try:
            raw = self._cipher.decrypt(base64.b64decode(value), aad=self._aad)
            return TokenPair.model_validate_json(raw)
        except (binascii.Error, DecryptionError, pydantic.ValidationError, ValueError):
            return None  # sealed under a key since dropped: sign in again

    async def save(self, pair: TokenPair | None) -> None:
        async with self._db.session() as session:
            if pair is None:
                await repositories.delete_chat_note(
                    session, platform=PLATFORM, scope=self._scope, name=NOTE
                )
                return
            sealed = self._cipher.encrypt(pair.model_dump_json().encode(), aad=self._aad)
            await repositories.set_chat_note(
                session,
                platform=PLATFORM,
                scope=self._scope,
                name=NOTE,
                value=base64.b64encode(sealed).decode(),
            )
