"""The inbound items this process holds, each under a lease, from accept until done.

`claim` records an item's event id (the dedupe) and takes its lease in the same INSERT; from
then until `done` one background task renews the leases of every item held here, every
`renew_every_s`, with one UPDATE fenced by this owner. The lease is held from the claim,
not only while the turn runs, because an item may wait behind earlier turns of its
conversation: a queued item whose lease ran out would be run a second time by another process.

`take_over` takes items nobody holds any more (a dead process's) for this owner. Which items
that is depends on the database:

- PostgreSQL may be shared by N processes, so only items whose lease is missing or expired
  are taken: a live process renews its leases and never loses them.
- SQLite is used by one process only (replicas need PostgreSQL), so at start every unfinished
  item claimed before this process started by another owner is dead work and is taken at
  once, without waiting for its lease to run out.

An item's payload (a person's words) is kept only until it is done, and sealed with the
secret key meanwhile (given a cipher): never in clear on disk, not even in SQLite's WAL.

Claims are what a front-end waits on before it acknowledges, so they never queue behind
the turns' writes: one claim writer takes every claim waiting, records them with one INSERT
in one urgent transaction (`Database.session(urgent=True)`: ahead of ordinary writers on
SQLite, on connections of its own on PostgreSQL), and answers each caller once it has
committed. While it writes, the next claims gather into the next batch.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.leases import LEASE_S, RENEW_EVERY_S, lease_until, new_owner
from storage import Database, FieldCipher, field_aad
from storage.crypto import DecryptionError
from storage.models import ProcessedEvent
from storage.repositories.events import (
    NewClaim,
    claim_events,
    mark_event_done,
    release_event_leases,
    renew_event_leases,
    take_over_events,
)

__all__ = ["TAKE_OVER_EVERY_S", "Inbox"]

log = logging.getLogger(__name__)

MAX_BATCH = 200
"""Claims per INSERT, far below any driver's bind-parameter limit (6 values each)."""

TAKE_OVER_EVERY_S = RENEW_EVERY_S
"""How often `serve` looks for items to take over: a dead process's items are resumed within
about `LEASE_S + TAKE_OVER_EVERY_S` (25 s by default)."""


class Inbox:
    def __init__(
        self,
        db: Database,
        *,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        renew_every_s: float | None = None,
        cipher: FieldCipher | None = None,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self._db = db
        self._cipher = cipher
        self._owner = owner or new_owner()
        self._lease_s = lease_s
        self._renew_every_s = renew_every_s or min(RENEW_EVERY_S, lease_s / 4)
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._claims: list[tuple[NewClaim, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def held(self) -> frozenset[str]:
        """Keys whose leases this process renews now."""
        return frozenset(self._held)

    @property
    def single_process(self) -> bool:
        """SQLite: one process uses the database, so another owner's items are a dead
        process's. On PostgreSQL another owner may be a live replica."""
        return self._db.dialect != "postgresql"

    async def claim(self, *, key: str, source: str, payload: Mapping[str, Any]) -> bool:
        """Claim ``key`` with its payload under this owner's lease; False for a duplicate.
        Returns once the claim is committed (raises if it could not be)."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((NewClaim(key, source, self._seal(key, payload)), waiter))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_claims(), name=f"inbox-claims:{self._owner}"
            )
        fresh = await asyncio.shield(waiter)  # a cancelled caller leaves the batch alone
        if fresh:
            self._hold(key)
        return fresh

    async def _write_claims(self) -> None:
        """Write the waiting claims, a batch at a time, until none wait."""
        while self._claims:
            batch, self._claims = self._claims[:MAX_BATCH], self._claims[MAX_BATCH:]
            try:
                async with self._db.session(urgent=True) as session:
                    fresh = await claim_events(
                        session,
                        [claim for claim, _ in batch],
                        owner=self._owner,
                        until=lease_until(seconds=self._lease_s),
                    )
            except asyncio.CancelledError:  # shutting down: nobody is left hanging
                for _, waiter in batch + self._claims:
                    if not waiter.done():
                        waiter.set_exception(RuntimeError("the inbox is closing"))
                self._claims = []
                raise
            except Exception as error:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(error)
                continue
            for claim, waiter in batch:
                if not waiter.done():
                    waiter.set_result(claim.key in fresh)
                fresh.discard(claim.key)  # the same key twice in a batch: the first wins

    async def take_over(
        self, *, started_at: datetime | None = None, limit: int = 100
    ) -> list[ProcessedEvent]:
        """Take the lease on items nobody holds and return those not already held here.

        ``started_at`` (this process's start) matters on SQLite only: items claimed before it
        by another owner are taken whatever their lease says (see the module docstring).
        """
        others_before = started_at if self.single_process else None
        async with self._db.session() as session:
            rows = await take_over_events(
                session,
                owner=self._owner,
                until=lease_until(seconds=self._lease_s),
                others_before=others_before,
                limit=limit,
            )
        fresh = [row for row in rows if row.key not in self._held]
        for row in rows:
            self._hold(row.key)
        for row in fresh:
            try:
                row.payload = self._unseal(row.key, row.payload or {})
            except DecryptionError:  # sealed under a key this process no longer has
                log.error("inbound item %s can't be unsealed; it is not resumed", row.key)
                row.payload = {}
        return fresh

    def _seal(self, key: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        if self._cipher is None:
            return payload
        plain = json.dumps(payload, separators=(",", ":")).encode()
        sealed = self._cipher.encrypt(plain, aad=field_aad("processed_event", "payload", key))
        return {"sealed": base64.b64encode(sealed).decode()}

    def _unseal(self, key: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        if "sealed" not in stored or self._cipher is None:
            return dict(stored)
        sealed = base64.b64decode(str(stored["sealed"]))
        plain = self._cipher.decrypt(sealed, aad=field_aad("processed_event", "payload", key))
        loaded: dict[str, Any] = json.loads(plain)
        return loaded

    async def done(self, session: AsyncSession, *, key: str) -> None:
        """The item's work is finished, in the caller's transaction (so it commits with the
        turn): no more renewals, and the lease is released. If that transaction fails the
        lease runs out and the item is taken over and run again."""
        self._held.discard(key)
        await mark_event_done(session, key=key)

    def let_go(self, key: str) -> None:
        """Stop renewing ``key`` without finishing it: its lease runs out and the item is
        taken over again (here or by another process). A no-op for items already done."""
        self._held.discard(key)

    async def aclose(self) -> None:
        """Stop renewing and let go of what is still held (a shutdown after its grace
        period), so a live process takes it over at once; a process that dies simply lets
        its leases run out."""
        self._held.clear()
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        async with self._db.session() as session:
            await release_event_leases(session, owner=self._owner)

    def _hold(self, key: str) -> None:
        self._held.add(key)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew_while_held(), name=f"inbox-leases:{self._owner}"
            )

    async def _renew_while_held(self) -> None:
        """Renew every held lease each period; ends when nothing is held."""
        while True:
            await asyncio.sleep(self._renew_every_s)
            if not self._held:
                self._renewer = None
                return
            keys = set(self._held)
            try:
                async with self._db.session() as session:
                    still = await renew_event_leases(
                        session,
                        keys=keys,
                        owner=self._owner,
                        until=lease_until(seconds=self._lease_s),
                    )
            except Exception:
                log.warning("could not renew %d inbox leases", len(keys), exc_info=True)
                continue
            for key in (keys - still) & self._held:
                # Taken over after renewals failed for a whole lease: the other process now
                # owns the item; this one's work on it can no longer be fenced off.
                log.warning("lost the lease on inbound item %s", key)
                self._held.discard(key)
