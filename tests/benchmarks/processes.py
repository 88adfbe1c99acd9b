"""Servers in their own processes for benchmarks, so their CPU time is not billed to the
process being measured, and a fresh database for each run."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.storage.databases import postgres_database


@contextlib.asynccontextmanager
async def fresh_database(server: str | None, tmp: Path, name: str) -> AsyncIterator[str]:
    """A new SQLite file in `tmp`, or a new database on the PostgreSQL server at `server`
    (dropped afterwards), so no earlier run's rows (sealed with another key, jobs left
    queued) are in the way."""
    if server is None:
        yield f"sqlite:///{tmp / f'{name}.db'}"
        return
    async with postgres_database(name, server) as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def server_process(*args: str, port: int, ready_path: str) -> AsyncIterator[str]:
    """Run `python -m <args>` listening on `port`; yields its base URL once `ready_path`
    answers (any HTTP status means it is up); terminated on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, stdout=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(1200):  # a loaded machine takes a while to import everything
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"{url}{ready_path}")
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{args[0]} did not start")
        yield url
    finally:
        process.terminate()
        await process.wait()
