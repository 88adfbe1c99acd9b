"""Serve an ASGI app on loopback: in the background (demo, tests) or in the foreground.

``serve_in_background`` binds the socket itself (port 0 = an ephemeral port), so the URL is
known before uvicorn starts, and it never installs signal handlers or touches logging
configuration: the host process keeps its Ctrl-C and its log setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from integrations.sandbox.callagent import callagent_state, create_callagent_app
from integrations.sandbox.callagent_state import CallAgentSandboxConfig, CallAgentSandboxState
from integrations.sandbox.config import SandboxConfig
from integrations.sandbox.events import create_events_app, events_state
from integrations.sandbox.events_state import EventsSandboxConfig, EventsSandboxState
from integrations.sandbox.onegent import create_onegent_app, onegent_state
from integrations.sandbox.onegent_config import OnegentSandboxConfig
from integrations.sandbox.onegent_jobs import API_PREFIX as ONEGENT_API_PREFIX
from integrations.sandbox.onegent_state import OnegentSandboxState
from integrations.sandbox.outgoing import create_outgoing_app, sandbox_state
from integrations.sandbox.state import SandboxState
from integrations.sandbox.voyagent import create_voyagent_app, voyagent_state
from integrations.sandbox.voyagent_state import VoyagentSandboxConfig, VoyagentSandboxState

__all__ = [
    "RunningCallAgentSandbox",
    "RunningEventsSandbox",
    "RunningOnegentSandbox",
    "RunningSandbox",
    "RunningVoyagentSandbox",
    "run_sandbox",
    "running_callagent_sandbox",
    "running_events_sandbox",
    "running_onegent_sandbox",
    "running_outgoing_sandbox",
    "running_voyagent_sandbox",
    "serve_in_background",
]


class _BackgroundServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = asyncio.Event()
        self._exit_requested = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        """uvicorn's tick loop, but woken at once by :meth:`request_exit` (faster teardown)."""
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._exit_requested.wait()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to the host process

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown minus its fixed 100 ms pause: idle keep-alive connections close
        within a loop turn or two, so a test's server stops in milliseconds."""
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(20):  # in-flight responses get up to ~100 ms, as in uvicorn
            if not self.server_state.connections:
                break
            await asyncio.sleep(0.005)
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                await self._wait_tasks_to_complete()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel()
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.startup_done.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serve_in_background(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 10.0,
    shutdown_timeout_s: int = 5,
) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on the current event loop; yields its base URL.

    The app's lifespan runs (startup before the URL is yielded, shutdown on exit).
    """
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=shutdown_timeout_s,
    )
    server = _BackgroundServer(config)
    where = f"{host}:{bound_port}"

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits the process when the app fails to start
            raise RuntimeError(f"server on {where} failed to start (exit {exc.code})") from None

    task = asyncio.create_task(serve(), name=f"uvicorn-{where}")
    try:
        async with asyncio.timeout(startup_timeout_s):
            await server.startup_done.wait()
        if not server.started:
            await asyncio.wait([task], timeout=shutdown_timeout_s)
            task.result()  # raises the startup failure
            raise RuntimeError(f"server on {where} stopped during startup")
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.request_exit()
        try:
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=shutdown_timeout_s + 1)
                except TimeoutError:
                    server.force_exit = True
                    await task
            elif not task.cancelled():
                task.exception()  # already raised above, or logged by uvicorn
        finally:
            sock.close()


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    """An Outgoing sandbox served on loopback."""

    base_url: str
    """Root URL, the value for ``OUTGOING_API_URL`` (paths start with ``/partner/v1``)."""
    app: Starlette
    state: SandboxState


@contextlib.asynccontextmanager
async def running_outgoing_sandbox(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """``create_outgoing_app`` + ``serve_in_background`` in one step (demo, tests)."""
    app = create_outgoing_app(config)
    async with serve_in_background(app, host=host, port=port) as url:
        yield RunningSandbox(base_url=url, app=app, state=sandbox_state(app))


@dataclass(frozen=True, slots=True)
class RunningCallAgentSandbox:
    """An AI Call Agent sandbox served on loopback."""

    base_url: str
    """Root URL for ``CallAgentClient(base_url=...)`` (paths start with ``/calls``)."""
    app: Starlette
    state: CallAgentSandboxState


@contextlib.asynccontextmanager
async def running_callagent_sandbox(
    config: CallAgentSandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningCallAgentSandbox]:
    """``create_callagent_app`` + ``serve_in_background``; open event streams are ended
    first on exit, so the server stops at once instead of waiting for them."""
    app = create_callagent_app(config)
    state = callagent_state(app)
    async with serve_in_background(app, host=host, port=port) as url:
        try:
            yield RunningCallAgentSandbox(base_url=url, app=app, state=state)
        finally:
            state.close_streams()


@dataclass(frozen=True, slots=True)
class RunningOnegentSandbox:
    """An Onegent Execution API sandbox served on loopback."""

    base_url: str
    """The API root *with* ``/api/v1``: the value for ``ONEGENT_API_URL``."""
    root_url: str
    """The server root (hand-off pages are at ``<root_url>/handoff/<jobId>``)."""
    app: Starlette
    state: OnegentSandboxState


@contextlib.asynccontextmanager
async def running_onegent_sandbox(
    config: OnegentSandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningOnegentSandbox]:
    """``create_onegent_app`` + ``serve_in_background``; running jobs are cancelled on exit."""
    app = create_onegent_app(config)
    async with serve_in_background(app, host=host, port=port) as url:
        yield RunningOnegentSandbox(
            base_url=f"{url}{ONEGENT_API_PREFIX}", root_url=url, app=app, state=onegent_state(app)
        )


@dataclass(frozen=True, slots=True)
class RunningEventsSandbox:
    """An Events matching Partner API sandbox served on loopback."""

    base_url: str
    """The Partner API base URL: the value for ``EVENTS_API_URL``."""
    app: Starlette
    state: EventsSandboxState


@contextlib.asynccontextmanager
async def running_events_sandbox(
    config: EventsSandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEventsSandbox]:
    """``create_events_app`` + ``serve_in_background`` in one step (demo, tests)."""
    app = create_events_app(config)
    async with serve_in_background(app, host=host, port=port) as url:
        yield RunningEventsSandbox(base_url=url, app=app, state=events_state(app))


@dataclass(frozen=True, slots=True)
class RunningVoyagentSandbox:
    """A Voyagent agency API sandbox served on loopback."""

    base_url: str
    """The API root (paths start with ``/auth``, ``/enquiries``, ``/chat``...)."""
    app: Starlette
    state: VoyagentSandboxState


@contextlib.asynccontextmanager
async def running_voyagent_sandbox(
    config: VoyagentSandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningVoyagentSandbox]:
    """``create_voyagent_app`` + ``serve_in_background``; open event streams are ended
    first on exit, so the server stops at once instead of waiting for them."""
    app = create_voyagent_app(config)
    state = voyagent_state(app)
    async with serve_in_background(app, host=host, port=port) as url:
        try:
            yield RunningVoyagentSandbox(base_url=url, app=app, state=state)
        finally:
            state.close_streams()


def run_sandbox(
    host: str = "127.0.0.1", port: int = 8765, config: SandboxConfig | None = None
) -> None:
    """Serve the Outgoing sandbox in the foreground until Ctrl-C (``concierge sandbox``)."""
    uvicorn.run(create_outgoing_app(config), host=host, port=port, ws="none")
