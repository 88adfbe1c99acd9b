"""Columns sealed as a whole: people's words, job payloads, answers, replies waiting to go out.

A sealed column is declared with ``SealedJSON`` or ``SealedText`` in ``storage.models``; the
code reading and writing it sees ordinary values (``action.payload`` is a dict), while the
database holds ``FieldCipher`` ciphertext (``bytea`` / ``BLOB``) whose associated data names
the column (``field_aad(table, column, "")``), so a value copied into another column does not
open. No code path can forget to seal: there is no way to write such a column in clear.

The cipher belongs to the database: ``seal_with(db, cipher)`` once, where the deployment's
``FieldCipher`` is built (`serve`, `demo`, `secrets rotate`, test fixtures). A database with
no cipher refuses to write or read a sealed column rather than fall back to clear text.

Secrets that must not move between rows (partner keys, bot tokens, profiles) are sealed by
their repository functions with row-bound associated data instead (``cipher=`` argument).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect, LargeBinary, TypeDecorator

from storage.crypto import FieldCipher, field_aad

__all__ = [
    "NoCipher",
    "Sealed",
    "SealedJSON",
    "SealedText",
    "cipher_for",
    "column_aad",
    "dump_json",
    "seal_with",
]

_CIPHERS: WeakKeyDictionary[Dialect, FieldCipher] = WeakKeyDictionary()


class NoCipher(RuntimeError):
    """A sealed column was used on a database that was given no cipher."""


class _HasEngine(Protocol):
    @property
    def engine(self) -> Any: ...


def seal_with(db: _HasEngine, cipher: FieldCipher) -> None:
    """Seal the sealed columns of every session of ``db`` (a ``Database``) with ``cipher``."""
    _CIPHERS[db.engine.sync_engine.dialect] = cipher


def cipher_for(dialect: Dialect) -> FieldCipher:
    cipher = _CIPHERS.get(dialect)
    if cipher is None:
        raise NoCipher(
            "this database has no cipher for its sealed columns: call "
            "storage.sealing.seal_with(db, cipher) where the Database is built"
        )
    return cipher


def column_aad(table: str, column: str) -> bytes:
    """The associated data of a column sealed as a whole (no row key: see the module doc)."""
    return field_aad(table, column, "")


def dump_json(value: Any) -> bytes:
    """The plaintext of a sealed JSON value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Sealed(TypeDecorator[Any]):
    """A value sealed with the database's cipher (see ``SealedJSON`` and ``SealedText``)."""

    impl = LargeBinary
    cache_ok = True
    kind: Literal["json", "text"] = "json"

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table = table
        self.column = column
        self.aad = column_aad(table, column)

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        plain = dump_json(value) if self.kind == "json" else str(value).encode()
        return cipher_for(dialect).encrypt(plain, aad=self.aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        plain = cipher_for(dialect).decrypt(bytes(value), aad=self.aad)
        return json.loads(plain) if self.kind == "json" else plain.decode()

    def copy(self, **kw: Any) -> Sealed:
        return type(self)(self.table, self.column)


class SealedJSON(Sealed):
    """A JSON value (dict, list…) sealed as a whole."""

    kind = "json"
    cache_ok = True


class SealedText(Sealed):
    """A string sealed as a whole."""

    kind = "text"
    cache_ok = True
