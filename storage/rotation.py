"""Re-seal every sealed value under the current key, so the previous key can be dropped.

What is sealed, and with which associated data:

* every column declared ``SealedJSON`` / ``SealedText`` in ``storage.models`` (found by
  reading the metadata, so a new sealed column is rotated without being listed here);
* values sealed by their repository with row-bound associated data: profiles, booking
  profiles, partner keys, bot and refresh tokens, the Call Agent webhook secret;
* two envelopes inside JSON: an inbound item's payload while it waits
  (``{"sealed": …}``, ``conversations.inbox``) and an attendee list awaiting its import
  (``{"seal_id", "sealed"}``, ``conversations.capabilities.events.roster``), which sits
  inside sealed action payloads and approval snapshots.

Keyed fingerprints (a profile's ``profile_hash``, a partner key's ``key_fingerprint``) depend
on the current key too, and are recomputed with it, so nobody is re-provisioned for nothing.

Safe while `serve` runs: rows are read a page at a time and each page is written in one short
transaction, every row with a compare-and-set on the ciphertext it read; a row some process
rewrote meanwhile was sealed by it with the current key and is left alone. Running it again
finds nothing left to do.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.expression import TableClause

from storage.crypto import DecryptionError, FieldCipher, field_aad
from storage.engine import Database
from storage.models import metadata
from storage.sealing import Sealed, dump_json

__all__ = ["PlaceCount", "RotationReport", "rotate_all"]

PAGE = 100


@dataclass
class PlaceCount:
    """What became of one place's values."""

    resealed: int = 0
    current: int = 0
    unreadable: int = 0
    """Sealed with a key that is not configured, or tampered with: left as they are."""
    changed_meanwhile: int = 0
    """Rewritten by another process between the read and the write (so already current)."""


@dataclass
class RotationReport:
    places: dict[str, PlaceCount] = field(default_factory=dict)

    def place(self, name: str) -> PlaceCount:
        return self.places.setdefault(name, PlaceCount())

    @property
    def resealed(self) -> int:
        return sum(p.resealed for p in self.places.values())

    @property
    def unreadable(self) -> int:
        return sum(p.unreadable for p in self.places.values())

    def lines(self) -> list[str]:
        """One line per place that holds anything, for the operator."""
        return [
            f"{name}: {count.resealed} re-sealed, {count.current} already current"
            + (f", {count.unreadable} unreadable" if count.unreadable else "")
            + (
                f", {count.changed_meanwhile} rewritten meanwhile"
                if count.changed_meanwhile
                else ""
            )
            for name, count in self.places.items()
            if count.resealed or count.current or count.unreadable or count.changed_meanwhile
        ]


# ---- nested envelopes ---------------------------------------------------------------------


def _roster_aad(seal_id: str) -> bytes:
    return f"event-import:{seal_id}".encode()  # conversations.capabilities.events.roster


def _reseal_nested(value: Any, cipher: FieldCipher) -> tuple[Any, bool]:
    """``value`` with every attendee-list envelope in it re-sealed; whether any changed."""
    if isinstance(value, list):
        changed = False
        items = []
        for item in value:
            new, item_changed = _reseal_nested(item, cipher)
            items.append(new)
            changed = changed or item_changed
        return items, changed
    if not isinstance(value, dict):
        return value, False
    changed = False
    out: dict[str, Any] = {}
    for key, item in value.items():
        out[key], item_changed = _reseal_nested(item, cipher)
        changed = changed or item_changed
    seal_id, sealed = out.get("seal_id"), out.get("sealed")
    if isinstance(seal_id, str) and isinstance(sealed, str):
        raw = _b64(sealed)
        if raw is not None and cipher.needs_rotation(raw):
            resealed = cipher.rotate(raw, aad=_roster_aad(seal_id))
            out["sealed"] = base64.b64encode(resealed).decode()
            changed = True
    return out, changed


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# ---- places -------------------------------------------------------------------------------

_Row = tuple[Any, ...]

Reseal = Callable[[_Row, FieldCipher], dict[str, Any] | None]
"""Given a row, the new values of its columns, or None when it is already current."""


@dataclass(frozen=True)
class _Place:
    name: str
    table: TableClause
    key: str
    value: str
    reseal: Reseal
    unchanged: Callable[[TableClause, _Row], sa.ColumnElement[bool]] | None = None
    """The row still holds what was read; by default, the very ciphertext read."""


def _whole_column(table: str, key: str, column: str, sealed: Sealed) -> _Place:
    def reseal(row: _Row, cipher: FieldCipher) -> dict[str, Any] | None:
        old = bytes(row[1])
        plain = cipher.decrypt(old, aad=sealed.aad)
        if sealed.kind == "json":
            value, nested = _reseal_nested(json.loads(plain), cipher)
            if nested:
                return {column: cipher.encrypt(dump_json(value), aad=sealed.aad)}
        if not cipher.needs_rotation(old):
            return None
        return {column: cipher.encrypt(plain, aad=sealed.aad)}

    clause = sa.table(table, sa.column(key), sa.column(column, sa.LargeBinary()))
    return _Place(f"{table}.{column}", clause, key, column, reseal)


def _row_bound(
    table: str,
    key: str,
    column: str,
    aad: Callable[[_Row], bytes],
    *,
    also: tuple[str, ...] = (),
    fingerprint: str | None = None,
) -> _Place:
    """A value sealed by its repository, bound to its row by ``aad(row)``; ``fingerprint``
    names a column holding the keyed fingerprint of the plaintext, recomputed with it."""

    def reseal(row: _Row, cipher: FieldCipher) -> dict[str, Any] | None:
        old = bytes(row[1])
        if not cipher.needs_rotation(old):
            return None
        plain = cipher.decrypt(old, aad=aad(row))
        new: dict[str, Any] = {column: cipher.encrypt(plain, aad=aad(row))}
        if fingerprint is not None:
            new[fingerprint] = cipher.fingerprint(plain)
        return new

    columns = [sa.column(key), sa.column(column, sa.LargeBinary()), *map(sa.column, also)]
    if fingerprint is not None:
        columns.append(sa.column(fingerprint))
    return _Place(f"{table}.{column}", sa.table(table, *columns), key, column, reseal)


def _inbox_payloads() -> _Place:
    def reseal(row: _Row, cipher: FieldCipher) -> dict[str, Any] | None:
        stored = row[1]
        sealed = stored.get("sealed") if isinstance(stored, dict) else None
        raw = _b64(sealed) if isinstance(sealed, str) else None
        if raw is None or not cipher.needs_rotation(raw):
            return None
        aad = field_aad("processed_event", "payload", row[0])
        return {"payload": {"sealed": base64.b64encode(cipher.rotate(raw, aad=aad)).decode()}}

    def unchanged(table: TableClause, row: _Row) -> sa.ColumnElement[bool]:
        # A claim's payload is written once, and only ever cleared after: when its item is done.
        return sa.and_(table.c.payload.is_not(None), table.c.done_at.is_(None))

    payload = sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )
    clause = sa.table(
        "processed_event", sa.column("key"), sa.column("payload", payload), sa.column("done_at")
    )
    return _Place("processed_event.payload", clause, "key", "payload", reseal, unchanged)


def _installation_aad(name: str) -> Callable[[_Row], bytes]:
    return lambda row: field_aad("installation", name, row[2])


def _places() -> Iterator[_Place]:
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Sealed):
                (key,) = table.primary_key.columns  # tables with sealed columns have one key
                yield _whole_column(table.name, key.name, column.name, column.type)
    yield _row_bound(
        "person",
        "id",
        "profile_ciphertext",
        lambda r: field_aad("person", "profile", r[0]),
        fingerprint="profile_hash",
    )
    yield _row_bound(
        "person",
        "id",
        "booking_profile_ciphertext",
        lambda r: field_aad("person", "booking_profile_ciphertext", r[0]),
    )
    yield _row_bound(
        "workspace_credential",
        "id",
        "key_ciphertext",
        lambda r: field_aad("workspace_credential", r[3], r[2]),
        also=("workspace_id", "partner"),
        fingerprint="key_fingerprint",
    )
    for token, name in (
        ("bot_token_ciphertext", "bot_token"),
        ("refresh_token_ciphertext", "refresh_token"),
    ):
        yield _row_bound(
            "installation", "id", token, _installation_aad(name), also=("workspace_id",)
        )
    yield _row_bound(
        "call_webhook",
        "key_fingerprint",
        "secret_ciphertext",
        lambda r: field_aad("call_webhook", "secret_ciphertext", r[0]),
    )
    yield _inbox_payloads()


# ---- the run ------------------------------------------------------------------------------


async def rotate_all(db: Database, cipher: FieldCipher, *, page: int = PAGE) -> RotationReport:
    """Re-seal what the current key did not seal; see the module docstring."""
    report = RotationReport()
    for place in _places():
        await _rotate_place(db, cipher, place, report.place(place.name), page)
    return report


async def _rotate_place(
    db: Database, cipher: FieldCipher, place: _Place, count: PlaceCount, page: int
) -> None:
    table, key, value = place.table, place.table.c[place.key], place.table.c[place.value]
    last: Any = None
    while True:
        query = sa.select(*table.c).where(value.is_not(None)).order_by(key).limit(page)
        if last is not None:
            query = query.where(key > last)
        async with db.session(read_only=True) as session:
            rows = [tuple(r) for r in (await (await session.connection()).execute(query)).all()]
        if not rows:
            return
        last = rows[-1][0]
        updates: list[tuple[_Row, dict[str, Any]]] = []
        for row in rows:
            try:
                new = place.reseal(row, cipher)
            except DecryptionError:
                count.unreadable += 1
                continue
            if new is None:
                count.current += 1
            else:
                updates.append((row, new))
        if not updates:
            continue
        async with db.session() as session:
            connection = await session.connection()
            for row, new in updates:
                same = (
                    place.unchanged(table, row)
                    if place.unchanged is not None
                    else value == sa.literal(bytes(row[1]), sa.LargeBinary())
                )
                done = await connection.execute(
                    table.update().where(key == row[0], same).values(new)
                )
                if done.rowcount:
                    count.resealed += 1
                else:
                    count.changed_meanwhile += 1
