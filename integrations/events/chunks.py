"""Splitting an attendee import into requests under the partner's limits.

The spec allows at most 50,000 attendees per import; the client also keeps each body under
a byte budget (the partner answers ``413 PAYLOAD_TOO_LARGE`` above its size limit). The
split is deterministic — the same attendees and limits give the same chunks and the same
per-chunk idempotency keys — so a retry after a crash re-sends exactly what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.events.models import AttendeeInput

__all__ = ["MAX_IMPORT_BYTES", "MAX_IMPORT_ROWS", "ImportChunk", "ImportLimits", "split_import"]

MAX_IMPORT_ROWS = 50_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """Rows and bytes one import request may hold."""

    max_rows: int = MAX_IMPORT_ROWS
    max_bytes: int = MAX_IMPORT_BYTES

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_bytes < 1:
            raise ValueError("import limits must be positive")


@dataclass(frozen=True)
class ImportChunk:
    """One import request: its own idempotency key and its exact bytes."""

    idempotency_key: str
    attendees: tuple[dict[str, Any], ...]
    webhook_url: str | None = None

    def body(self) -> bytes:
        payload: dict[str, Any] = {"idempotency_key": self.idempotency_key}
        if self.webhook_url is not None:
            payload["webhook_url"] = self.webhook_url
        payload["attendees"] = list(self.attendees)
        return json.dumps(payload).encode()

    def halves(self) -> tuple[ImportChunk, ImportChunk]:
        """The chunk split in two (keys ``<key>-a`` / ``<key>-b``), after a 413."""
        middle = len(self.attendees) // 2
        first, second = self.attendees[:middle], self.attendees[middle:]
        return (
            ImportChunk(f"{self.idempotency_key}-a", first, self.webhook_url),
            ImportChunk(f"{self.idempotency_key}-b", second, self.webhook_url),
        )


def split_import(
    attendees: Sequence[AttendeeInput],
    *,
    idempotency_key: str,
    webhook_url: str | None = None,
    limits: ImportLimits = ImportLimits(),
) -> list[ImportChunk]:
    """``attendees`` packed in order into as few chunks as the limits allow.

    One chunk keeps the caller's key; several get ``<key>-<n>of<total>``. An attendee too
    large for a request on its own still gets a chunk of its own (the partner decides).
    """
    if not attendees:
        raise ValueError("an import needs at least one attendee")
    rows = [a.model_dump(mode="json", exclude_none=True) for a in attendees]
    overhead = len(ImportChunk(idempotency_key + "-00000of00000", (), webhook_url).body())
    groups: list[list[dict[str, Any]]] = [[]]
    size = overhead
    for row in rows:
        row_size = len(json.dumps(row).encode()) + 2  # ", " between rows
        current = groups[-1]
        if current and (len(current) >= limits.max_rows or size + row_size > limits.max_bytes):
            groups.append([])
            size = overhead
        groups[-1].append(row)
        size += row_size
    if len(groups) == 1:
        return [ImportChunk(idempotency_key, tuple(groups[0]), webhook_url)]
    total = len(groups)
    return [
        ImportChunk(f"{idempotency_key}-{n}of{total}", tuple(group), webhook_url)
        for n, group in enumerate(groups, start=1)
    ]
