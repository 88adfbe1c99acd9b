"""SQLite through aiosqlite: reads with one thread hop per statement, writes with none.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes it as four calls
into aiosqlite's thread. On a busy event loop each call waits for the loop to come round
again, and SQLite has one writer: a write transaction held across sixteen such waits kept
the write lock busy for most of a run and capped turns per second, however many ran at once.

- A read does the four in the thread as one call (`_run`): one hop per statement.
- A write transaction (begun with `begin_immediate`, under the process's write lock) runs
  its statements and its commit on the event loop's thread itself: a statement there takes
  microseconds (WAL, ``synchronous=NORMAL``, no fsync on commit), far less than one hop's
  wait, and the write lock is held for the transaction's own work only. Checkpoints, which
  do fsync, never run on commit (``wal_autocheckpoint=0``): `checkpoint` runs them in a
  thread. Only BEGIN may wait (on another process's write): it tries at once, and waits in
  the thread when the database is locked.

Everything else is SQLAlchemy's own aiosqlite dialect, which `storage.engine` gives this
module as its DBAPI (`one_hop_dbapi`).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another process's write lock (in the thread)."""


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: execute, fetch everything, close (one hop)."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


async def _at_once() -> None:
    """An await that never yields to the event loop."""


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """In aiosqlite's thread: BEGIN IMMEDIATE, waiting up to the busy timeout."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("BEGIN IMMEDIATE")


def checkpoint(path: str) -> None:
    """Blocking (run it in a thread): copy what the WAL holds into the database file, on
    a connection of its own, without waiting for or blocking anyone (PASSIVE)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        conn.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor with no aiosqlite cursor behind it: each execute is one call in the thread,
    and its rows, description and counts are kept here for SQLAlchemy to read."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")
    _adapt_connection: OneHopConnection

    def __init__(self, adapt_connection: Any) -> None:  # no cursor made in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing open in the thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._call(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._call(operation, seq_of_parameters, many=True)

    def _call(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            if self._adapt_connection._direct:
                await_(_at_once())  # SQLAlchemy's async API wants each statement to await
                self._keep(_run(self._connection._conn, operation, parameters, many))
            else:
                await_(self._call_async(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _call_async(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._keep(outcome)

    def _keep(self, outcome: _Outcome) -> None:
        """What a statement gave, for SQLAlchemy to read from this cursor."""
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_direct",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._direct = False  # in a write transaction run on the loop's thread

    def begin_immediate(self) -> None:
        """Begin a write transaction whose statements run on the loop's thread. Tried at
        once; when another process holds the write lock, waited for in the thread."""
        conn: sqlite3.Connection = self._connection._conn
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                await_(self._connection._execute(_begin_waiting, conn))
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except Exception as error:
            self._handle_exception(error)
        self._direct = True

    def commit(self) -> None:
        if not self._direct:
            return super().commit()
        self._direct = False
        try:
            self._connection._conn.commit()
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        if not self._direct:
            return super().rollback()
        self._direct = False
        try:
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    """The DBAPI for `create_async_engine(..., module=...)` on a ``sqlite+aiosqlite`` URL."""
    import aiosqlite

    return OneHopDBAPI(aiosqlite, sqlite3)
