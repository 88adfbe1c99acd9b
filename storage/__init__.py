"""Persistence for the concierge: SQLModel tables (``storage.models``), keyword-only
repository functions (``storage.repositories``), Alembic migrations
(``storage.migrate.upgrade``), the engine/session factory and field crypto."""

from storage.crypto import (
    FieldCipher,
    InvalidSecretKey,
    field_aad,
    generate_key,
    new_token,
    token_hash,
)
from storage.engine import Database, DatabaseUnavailable
from storage.migrate import upgrade

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "FieldCipher",
    "InvalidSecretKey",
    "field_aad",
    "generate_key",
    "new_token",
    "token_hash",
    "upgrade",
]
