"""The async engine and session factory.

URLs come in contract form and are translated to async drivers:

* ``sqlite:///./.concierge/concierge.db`` → ``sqlite+aiosqlite`` (parent directory created;
  WAL, ``busy_timeout``, foreign keys on, transactions begin with ``BEGIN IMMEDIATE``; reads
  take one thread hop per statement and writes none, `storage.sqlite_driver`; the WAL is
  checkpointed in a thread every `CHECKPOINT_EVERY_S`)
* ``postgresql://user@host:port/db`` (or ``postgres://``) → ``postgresql+asyncpg``

SQLite note: a deferred transaction that reads and then writes fails at once with
"database is locked" when another connection wrote meanwhile; ``BEGIN IMMEDIATE`` takes the
write lock up front, so concurrent writers queue on ``busy_timeout`` instead. Sessions opened
with ``read_only=True`` use a plain deferred ``BEGIN`` and must not write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sqlite_driver import BUSY_TIMEOUT_MS, checkpoint, one_hop_dbapi

# aiosqlite's debug lines print every SQL parameter (people's words, sealed blobs): even with
# debug logging on, they are never written.
logging.getLogger("aiosqlite").setLevel(logging.INFO)
log = logging.getLogger(__name__)

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "async_url",
    "build_engine",
    "ensure_sqlite_dir",
    "redact_url",
    "sqlite_path",
]

CHECKPOINT_EVERY_S = 1.0
"""How often the SQLite WAL is copied into the database file (commits never do it)."""
_BEGIN_OPTION = "concierge_sqlite_begin"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached at start-up. The message has no password."""


def async_url(url: str | URL) -> URL:
    """Translate a contract URL to its async-driver form (idempotent)."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "aiosqlite"):
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "asyncpg"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database URL {redact_url(parsed)}: use sqlite:///path or postgresql://..."
    )


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if parsed.drivername.partition("+")[0] != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def build_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    null_pool: bool = False,
    echo: bool = False,
    pool_size: int = 20,
    max_overflow: int = 30,
    single_statements: bool = False,
) -> AsyncEngine:
    """Create (without connecting) an async engine with this project's connection settings.

    ``schema`` (PostgreSQL only) puts it first and alone on the ``search_path``, which is how
    tests give each run its own tables. ``single_statements`` (PostgreSQL): each statement
    commits by itself and a connection is not pinged when taken from the pool, so a write
    that is one statement costs one round trip. Does no I/O; see ``Database.create``.
    """
    target = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}  # errors name no values
    if null_pool:
        kwargs["poolclass"] = NullPool
    if target.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("schema is only supported for PostgreSQL")
        engine = create_async_engine(target, module=one_hop_dbapi(), **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "concierge"}}
    if schema is not None:
        connect_args["server_settings"]["search_path"] = schema
    if not null_pool:
        # Enough connections for many concurrent turns; each holds one only briefly.
        kwargs.update(
            pool_pre_ping=not single_statements,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=30,
        )
    if single_statements:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    return create_async_engine(target, connect_args=connect_args, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver; the "begin" hook below emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA wal_autocheckpoint = 0")  # `Database` checkpoints
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # What is cleared (an inbox item's words once handled) is overwritten on disk,
            # not left in free pages.
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        if mode == "IMMEDIATE":
            connection.connection.dbapi_connection.begin_immediate()  # type: ignore[union-attr]
        else:
            connection.exec_driver_sql("BEGIN")


def ensure_sqlite_dir(url: str | URL) -> None:
    """Create the directory of a SQLite database file (blocking; run it in a thread)."""
    path = sqlite_path(url)
    if path is not None:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)


async def _checkpoint_every(path: str, every_s: float) -> None:
    """Checkpoint the WAL in a thread, every `every_s`, for as long as the database is open."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(checkpoint, path)
        except Exception as error:  # a locked or vanished file: the next round tries again
            log.warning("SQLite checkpoint failed: %s", type(error).__name__)


class PrioritySemaphore:
    """An asyncio semaphore (by default a lock: one place) whose urgent waiters go before the
    others, first come, first served within each kind: a short urgent write never queues behind a
    crowd of ordinary ones, and a turn coming back from a wait goes before new turns."""

    def __init__(self, places: int = 1) -> None:
        if places < 1:
            raise ValueError("a semaphore needs at least one place")
        self._free = places
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if self._free > 0 and not self._urgent and not self._normal:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a place just as the wait was cancelled
            elif waiter in queue:  # a release may have dropped it already
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the place to the next waiter (urgent first), or free it."""
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    @asynccontextmanager
    async def held(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self.acquire(urgent=urgent)
        try:
            yield
        finally:
            self.release()


class Database:
    """An async engine plus a session factory. Build with ``await Database.create(url)``."""

    def __init__(self, engine: AsyncEngine, *, url: str, schema: str | None = None) -> None:
        self.engine = engine
        self.url = url
        self.schema = schema
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # SQLite has one writer at a time. Queue this process's writers on an asyncio lock
        # rather than on SQLite's busy handler, whose sleeps (up to 100 ms each) make long
        # tails under load; other processes still wait on busy_timeout.
        self._write_lock = PrioritySemaphore() if engine.dialect.name == "sqlite" else None
        self._checkpoints: asyncio.Task[None] | None = None
        # PostgreSQL: urgent writes (inbound claims) get their own connections, so they
        # never wait for one of the turns' pool.
        self._urgent_engine: AsyncEngine | None = None
        self._read_engine = (
            engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
            if engine.dialect.name == "sqlite"
            else engine
        )

    @classmethod
    async def create(
        cls, url: str, *, schema: str | None = None, echo: bool = False, check: bool = True
    ) -> Database:
        """Create the engine (and the SQLite file's directory); with ``check`` run ``SELECT 1``
        so an unreachable server fails here with ``DatabaseUnavailable``."""
        path = sqlite_path(url)
        if path is not None:
            await asyncio.to_thread(ensure_sqlite_dir, url)
        engine = build_engine(url, schema=schema, echo=echo)
        db = cls(engine, url=url, schema=schema)
        if check:
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except Exception as exc:
                await engine.dispose()
                raise DatabaseUnavailable(
                    f"cannot connect to {redact_url(url)}: {type(exc).__name__}: {exc}"
                ) from exc
        if path is not None:
            db._checkpoints = asyncio.get_running_loop().create_task(
                _checkpoint_every(str(path.expanduser()), CHECKPOINT_EVERY_S),
                name="sqlite-checkpoints",
            )
        return db

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(
        self, *, read_only: bool = False, urgent: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed when the block succeeds, rolled back when it
        raises. ``read_only`` (SQLite) begins a deferred transaction that must not write.
        ``urgent``: a short write someone waits on (an inbound claim before its ack), which
        must be a single statement: on SQLite it takes the write lock before every ordinary
        writer waiting; on PostgreSQL it runs on connections of its own, in autocommit (one
        round trip, each of which waits for a busy event loop to come round)."""
        bind = self._read_engine if read_only else self.engine
        if urgent and self._write_lock is None:
            bind = self._urgent()
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None and not read_only:
                await stack.enter_async_context(self._write_lock.held(urgent=urgent))
            session = await stack.enter_async_context(self._sessions(bind=bind))
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    def _urgent(self) -> AsyncEngine:
        if self._urgent_engine is None:
            self._urgent_engine = build_engine(
                self.url, schema=self.schema, pool_size=2, max_overflow=2, single_statements=True
            )
        return self._urgent_engine

    async def dispose(self) -> None:
        """Stop checkpointing and close every pooled connection (the last to close
        checkpoints the WAL)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        await self.engine.dispose()
        if self._urgent_engine is not None:
            await self._urgent_engine.dispose()

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r}, schema={self.schema!r})"
