"""Sealed columns: people's words, job payloads and answers become AES-GCM ciphertext.

Each column listed in ``SEALED`` becomes ``bytea`` / ``BLOB`` holding a ``FieldCipher`` value
(``storage.sealing``); rows already there are sealed here, a page at a time, with the cipher
``storage.migrate.upgrade`` is given (else ``CONCIERGE_SECRET_KEY`` and
``CONCIERGE_SECRET_KEY_PREVIOUS`` from the environment). A database with rows to seal and no
key stops with a message saying so. The downgrade opens them again (with the same key).

SQLite: the column is replaced by ``ADD COLUMN`` / ``DROP COLUMN`` / ``RENAME COLUMN`` (3.35+),
never by rebuilding the table, which with foreign keys on would cascade deletes into the
tables that point at it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from storage.crypto import FieldCipher, field_aad

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 500


class _Column(NamedTuple):
    table: str
    key: str
    name: str
    kind: str  # "json" | "text"
    nullable: bool
    clear_type: Callable[[], Any]


def _json() -> Any:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


SEALED = (
    _Column("person", "id", "display_name", "text", True, lambda: sa.String(255)),
    _Column("conversation", "id", "state", "json", False, _json),
    _Column("message", "id", "content", "json", False, _json),
    _Column("action", "id", "payload", "json", False, _json),
    _Column("action", "id", "result", "json", True, _json),
    _Column("action", "id", "error", "text", True, sa.Text),
    _Column("approval", "id", "snapshot", "json", False, _json),
    _Column("outbox_message", "id", "payload", "json", False, _json),
    _Column("pending_question", "id", "prompt", "text", False, sa.Text),
    _Column("pending_question", "id", "options", "json", False, _json),
    _Column("pending_question", "id", "context", "json", False, _json),
    _Column("pending_question", "id", "default_value", "text", True, sa.Text),
    _Column("pending_question", "id", "answer", "text", True, sa.Text),
    _Column("call_webhook", "key_fingerprint", "url", "text", False, sa.Text),
    _Column("chat_event", "id", "title", "text", False, lambda: sa.String(200)),
)


def _aad(column: _Column) -> bytes:
    return field_aad(column.table, column.name, "")  # storage.sealing.column_aad


class _Cipher:
    """The cipher, found only when a row needs it (an empty database needs no key)."""

    def __init__(self) -> None:
        self._cipher: FieldCipher | None = context.config.attributes.get("cipher")

    def get(self) -> FieldCipher:
        if self._cipher is None:
            key = os.environ.get("CONCIERGE_SECRET_KEY")
            if not key:
                raise RuntimeError(
                    "migration 0006 seals the rows already stored: set CONCIERGE_SECRET_KEY "
                    "(the deployment's key) and run the upgrade again"
                )
            self._cipher = FieldCipher(key, os.environ.get("CONCIERGE_SECRET_KEY_PREVIOUS"))
        return self._cipher


def _pages(column: _Column, source: str, *, cast_text: bool) -> Any:
    """(key, value) pairs of the rows whose ``source`` is not NULL, a page at a time."""
    table = sa.table(column.table, sa.column(column.key), sa.column(source, sa.LargeBinary()))
    key, value = table.c[column.key], table.c[source]
    read = sa.cast(value, sa.Text) if cast_text else value
    last: Any = None
    while True:
        query = sa.select(key, read).where(value.is_not(None)).order_by(key).limit(PAGE)
        if last is not None:
            query = query.where(key > last)
        rows = op.get_bind().execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _replace(column: _Column, *, new_type: Any, fill: Callable[[str], None]) -> None:
    """Swap ``column`` for one of ``new_type`` filled by ``fill(new_name)``, keeping its name
    and its NOT NULL."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    temp = f"{column.name}__new"
    if sqlite and not column.nullable:
        # SQLite adds a NOT NULL column only with a default; every row is filled right after.
        default = sa.text("X''") if isinstance(new_type, sa.LargeBinary) else sa.text("''")
        op.add_column(
            column.table, sa.Column(temp, new_type, nullable=False, server_default=default)
        )
    else:
        op.add_column(column.table, sa.Column(temp, new_type, nullable=True))
    fill(temp)
    if sqlite:
        op.execute(f'ALTER TABLE "{column.table}" DROP COLUMN "{column.name}"')
        op.execute(f'ALTER TABLE "{column.table}" RENAME COLUMN "{temp}" TO "{column.name}"')
    else:
        op.drop_column(column.table, column.name)
        op.alter_column(column.table, temp, new_column_name=column.name, nullable=column.nullable)


def upgrade() -> None:
    cipher = _Cipher()
    for column in SEALED:

        def seal(temp: str, column: _Column = column) -> None:
            target = sa.table(column.table, sa.column(column.key), sa.column(temp, sa.LargeBinary))
            for rows in _pages(column, column.name, cast_text=True):
                sealed = [
                    {"k": key, "v": cipher.get().encrypt(str(text).encode(), aad=_aad(column))}
                    for key, text in rows
                ]
                op.get_bind().execute(
                    target.update()
                    .where(target.c[column.key] == sa.bindparam("k"))
                    .values({temp: sa.bindparam("v")}),
                    sealed,
                )

        _replace(column, new_type=sa.LargeBinary(), fill=seal)


def downgrade() -> None:
    cipher = _Cipher()
    for column in reversed(SEALED):

        def open_(temp: str, column: _Column = column) -> None:
            clear = column.clear_type()
            target = sa.table(column.table, sa.column(column.key), sa.column(temp, clear))
            for rows in _pages(column, column.name, cast_text=False):
                opened = []
                for key, sealed in rows:
                    plain = cipher.get().decrypt(bytes(sealed), aad=_aad(column)).decode()
                    opened.append(
                        {"k": key, "v": json.loads(plain) if column.kind == "json" else plain}
                    )
                op.get_bind().execute(
                    target.update()
                    .where(target.c[column.key] == sa.bindparam("k"))
                    .values({temp: sa.bindparam("v")}),
                    opened,
                )

        _replace(column, new_type=column.clear_type(), fill=open_)
