"""Real `concierge serve` OS processes on one database, for replica and crash tests.

- `Zygote`: one interpreter that imports the concierge once, then forks every `serve` process
  from there: each child runs `bot.cli.main(["serve"])` as its own OS process (own pid,
  environment and log), so a process is up in a second or two instead of paying ~15 s of
  imports, and SIGKILL hits that one process. `CONCIERGE_LEASE_SECONDS` is read at import,
  so every child has the zygote's `LEASE_S`.
- `serve_rig`: what the processes share, all on loopback in the test process: a database
  (a fresh PostgreSQL database, or one SQLite file), a fake Slack Web API recording every
  call, the Outgoing sandbox, both behind `Gates` (a response can be held until the test
  lets it go, so "killed mid-search" does not depend on timing), and a `FrontDoor`: the one
  public URL partner webhooks are sent to, forwarded to whichever process is up, as a load
  balancer would.

    with Zygote.running() as zygote:                     # a module-scoped fixture
        async with serve_rig(tmp_path, zygote) as rig:
            await rig.start("a", model_url)
            await rig.deliver("a", event_body)
            await rig.kill("a")                          # SIGKILL
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import pytest
import sqlmodel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.slack import EVENTS_PATH
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    SandboxConfig,
    SandboxState,
    create_outgoing_app,
    sandbox_state,
    serve_in_background,
)
from storage import Database, generate_key
from storage.models import ProcessedEvent
from tests.benchmarks.processes import free_port
from tests.bot.slack.fake_slack import FakeSlackAPI
from tests.bot.slack.harness import BOT_TOKEN, SECRET, sign
from tests.storage.databases import postgres_database

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 2.0
"""`CONCIERGE_LEASE_SECONDS` of every process the zygote forks."""
OWN_ENV = ("CONCIERGE_", "SLACK_", "TELEGRAM_", "ANTHROPIC_", "OUTGOING_")
PRELOAD = (
    "bot.cli",
    "bot.server",
    "bot.slack.front_end",
    "uvicorn",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.lifespan.on",
    "alembic.command",
    "alembic.config",
    "alembic.runtime.migration",
    "storage.migrate",
    "asyncpg",
    "aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.sqlite.aiosqlite",
)

# ---- the zygote (runs in its own interpreter) ---------------------------------------------


def _say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left to wait for
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)
        _say(exit=pid, code=os.waitstatus_to_exitcode(status))


def _fork_serve(command: Mapping[str, Any]) -> int:
    """Fork one `serve`; in the child this never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.chdir(command["cwd"])
        log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.close(nothing)
        os.environ.update(command["env"])
        from bot.cli import main

        main(["serve"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _stop_children(children: set[int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        _reap(children)
        time.sleep(0.05)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while children:
        _reap(children)
        time.sleep(0.01)


def zygote_main() -> None:
    """Import, then fork a `serve` per command line on stdin (JSON: env, log, cwd); report
    `{"pid"}` for each and `{"exit", "code"}` when a child ends. Stops at EOF or `quit`."""
    for module in PRELOAD:
        importlib.import_module(module)
    _say(ready=True)
    children: set[int] = set()
    stdin, pending = sys.stdin.fileno(), b""
    try:
        while True:
            readable, _, _ = select.select([stdin], [], [], 0.1)
            _reap(children)
            if not readable:
                continue
            chunk = os.read(stdin, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = json.loads(line)
                if command.get("quit"):
                    return
                pid = _fork_serve(command)
                children.add(pid)
                _say(pid=pid)
    finally:
        _stop_children(children)
        sys.stdout.flush()
        os._exit(0)  # no interpreter teardown: nothing here needs it


# ---- the zygote, seen from the test process -----------------------------------------------


class Zygote:
    """Forks `serve` processes from one pre-imported interpreter (see the module docstring).
    Usable from any event loop: it talks to the zygote through a pipe and a reader thread."""

    def __init__(self) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(OWN_ENV)}
        environment.update(PYTHONPATH=str(ROOT), CONCIERGE_LEASE_SECONDS=str(LEASE_S))
        boot = "from tests.bot.serve_rig import zygote_main; zygote_main()"
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            cwd=ROOT,
        )
        self._ready = threading.Event()
        self._pids: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self._reader.start()

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[Zygote]:
        zygote = cls()
        try:
            yield zygote
        finally:
            zygote.close()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            said = json.loads(line)
            if "ready" in said:
                self._ready.set()
            elif "pid" in said:
                self._pids.put(int(said["pid"]))
            elif "exit" in said:
                self._exits[int(said["exit"])] = int(said["code"])

    async def fork(self, env: Mapping[str, str], log: Path, cwd: Path) -> int:
        """Start one `serve` with `env` over the zygote's environment; its pid."""
        deadline = time.monotonic() + 120
        while not self._ready.is_set():
            if self._process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the serve zygote did not start (exit {self._process.returncode})")
            await asyncio.sleep(0.05)
        assert self._process.stdin is not None
        command = {"env": dict(env), "log": str(log), "cwd": str(cwd)}
        # Write and read back in one go (no await between): concurrent forks stay paired.
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        self._process.stdin.flush()
        return self._pids.get(timeout=10)

    def returncode(self, pid: int) -> int | None:
        """The exit code of a child, once it ended (-9 after SIGKILL)."""
        return self._exits.get(pid)

    def close(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL) and the zygote."""
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.write(b'{"quit": true}\n')
                self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=5)
        if self._process.stdout is not None:
            self._process.stdout.close()


# ---- the processes ------------------------------------------------------------------------


@dataclass
class Serve:
    """One `serve` process (output in `log`)."""

    name: str
    url: str
    pid: int
    log: Path
    zygote: Zygote
    ready: bool = False

    @property
    def returncode(self) -> int | None:
        return self.zygote.returncode(self.pid)

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


# ---- what the processes share -------------------------------------------------------------


@dataclass
class Hold:
    """One held partner response: `arrived` once the sandbox has answered the request (its
    journal has it), sent on only after `release()`."""

    method: str
    path: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class Gates:
    """An app (the sandbox, the fake Slack) whose next response to a given request can be
    held back: the server did the work, but the caller hears of it only when the test says
    so (or never, if the caller is killed meanwhile)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.holds: list[Hold] = []

    def hold(self, method: str, path: str) -> Hold:
        """Hold the response to the next `method path` request."""
        held = Hold(method.upper(), path)
        self.holds.append(held)
        return held

    def release_all(self) -> None:
        for held in self.holds:
            held.release()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held = None
        if scope["type"] == "http":
            held = next(
                (
                    h
                    for h in self.holds
                    if not h.arrived.is_set()
                    and (h.method, h.path) == (scope["method"], scope["path"])
                ),
                None,
            )
        if held is None:
            await self.app(scope, receive, send)
            return
        held.arrived.set()  # claimed by this request (the journal records it inside)
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        await held.released.wait()
        for message in answer:
            await send(message)


class FrontDoor:
    """The deployment's public URL (`CONCIERGE_PUBLIC_URL`): forwards each request to the
    first process that is up, waiting up to `wait_s` while none is (a restart)."""

    def __init__(self, backends: Callable[[], list[str]], http: httpx.AsyncClient) -> None:
        self._backends = backends
        self._http = http
        self.wait_s = 30.0
        self.forwarded: list[tuple[str, str, int]] = []
        self._open = asyncio.Event()
        self._open.set()
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=methods)])

    def shut(self) -> None:
        """Requests wait at the door (up to `wait_s`) until `reopen`: late webhooks."""
        self._open.clear()

    def reopen(self) -> None:
        self._open.set()

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._open.wait(), self.wait_s)
        skip = {"host", "content-length", "connection", "transfer-encoding"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            for backend in self._backends():
                try:
                    answer = await self._http.request(
                        request.method, backend + target, content=body, headers=headers
                    )
                except httpx.ConnectError:
                    continue
                except httpx.TransportError:  # the process died under the request
                    return Response(status_code=502)
                self.forwarded.append((backend, target, answer.status_code))
                kept = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in skip | {"content-encoding"}
                }
                return Response(answer.content, status_code=answer.status_code, headers=kept)
            await asyncio.sleep(0.1)
        return Response(status_code=503)


@dataclass
class ServeRig:
    """`serve` processes on one database, and everything they talk to."""

    tmp: Path
    zygote: Zygote
    env: dict[str, str]
    slack: FakeSlackAPI
    partner: SandboxState
    partner_gates: Gates
    slack_gates: Gates
    door: FrontDoor
    http: httpx.AsyncClient
    processes: dict[str, Serve] = field(default_factory=dict)

    # ---- processes ---------------------------------------------------------------------

    async def start(
        self, name: str, model_url: str, *, ready_timeout_s: float = 60, **env: str
    ) -> Serve:
        """Fork `serve` (`model_url`: its fake Messages API) and wait until it is healthy."""
        port = free_port()
        own = {**self.env, **env, "ANTHROPIC_BASE_URL": model_url, "CONCIERGE_PORT": str(port)}
        log = self.tmp / f"{name}.log"
        pid = await self.zygote.fork(own, log, self.tmp)
        serve = Serve(name, f"http://127.0.0.1:{port}", pid, log, self.zygote)
        self.processes[name] = serve
        deadline = time.monotonic() + ready_timeout_s
        async with httpx.AsyncClient(timeout=2) as probe:
            while True:
                if not serve.alive or time.monotonic() > deadline:
                    pytest.fail(f"serve {name} did not start:\n{serve.output()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(f"{serve.url}/healthz")).status_code == 200:
                        serve.ready = True
                        return serve
                await asyncio.sleep(0.05)

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, no drain, leases left to run out."""
        serve = self.processes[name]
        os.kill(serve.pid, signal.SIGKILL)
        await self.exited(serve, timeout_s=10)
        assert serve.returncode == -signal.SIGKILL

    async def stop(self, name: str) -> None:
        serve = self.processes[name]
        if serve.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(serve.pid, signal.SIGTERM)
            if not await self.exited(serve, timeout_s=10, fail=False):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(serve.pid, signal.SIGKILL)
                await self.exited(serve, timeout_s=10)

    async def exited(self, serve: Serve, *, timeout_s: float, fail: bool = True) -> bool:
        deadline = time.monotonic() + timeout_s
        while serve.alive:
            if time.monotonic() > deadline:
                if fail:
                    pytest.fail(f"serve {serve.name} (pid {serve.pid}) did not exit")
                return False
            await asyncio.sleep(0.02)
        return True

    def up(self) -> list[str]:
        """URLs of the processes that are up, in start order (what the front door uses)."""
        return [p.url for p in self.processes.values() if p.ready and p.alive]

    # ---- Slack -------------------------------------------------------------------------

    async def deliver(self, name: str, body: bytes) -> int:
        """A signed Events API request to one process; its status code."""
        headers = {"Content-Type": "application/json", **sign(body)}
        url = f"{self.processes[name].url}{EVENTS_PATH}"
        return (await self.http.post(url, content=body, headers=headers)).status_code

    async def interact(self, name: str, payload: Mapping[str, Any]) -> int:
        """A signed interactivity request (a button press) to one process; its status code."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        url = f"{self.processes[name].url}{EVENTS_PATH}"
        return (await self.http.post(url, content=body, headers=headers)).status_code

    def answers(self) -> list[str]:
        return [post.block_text for post in self.slack.of("chat.postMessage")]

    async def wait_for(self, check: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Poll `check`; the seconds it took, or fail with every process's log."""
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout_s:
                pytest.fail(f"{what} after {timeout_s} s\n{self.report()}")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def handled(self, timeout_s: float, what: str) -> None:
        """Wait until every inbound item the processes took is done (its turn saved, not
        only its answer posted: a kill before that makes the next process redo the turn)."""
        db = await Database.create(self.env["CONCIERGE_DATABASE_URL"], check=False)
        try:
            started = time.monotonic()
            while True:
                async with db.session(read_only=True) as session:
                    open_items = (
                        await session.exec(
                            sqlmodel.select(sqlmodel.func.count())
                            .select_from(ProcessedEvent)
                            .where(sqlmodel.col(ProcessedEvent.done_at).is_(None))
                        )
                    ).one()
                if not open_items:
                    return
                if time.monotonic() - started > timeout_s:
                    pytest.fail(f"{what} after {timeout_s} s\n{self.report()}")
                await asyncio.sleep(0.05)
        finally:
            await db.dispose()

    def report(self) -> str:
        """What Slack saw and each process logged (for failure messages)."""
        calls = [f"{c.method} {c.ts}: {c.block_text[:80]!r}" for c in self.slack.replies]
        logs = "\n".join(f"--- {p.name}\n{p.output()}" for p in self.processes.values())
        return "Slack: " + "\n  ".join(calls) + "\n" + logs


@contextlib.asynccontextmanager
async def serve_rig(
    tmp: Path,
    zygote: Zygote,
    *,
    database: Literal["postgresql", "sqlite"] = "postgresql",
    sandbox: SandboxConfig | None = None,
) -> AsyncIterator[ServeRig]:
    """A fresh database, fake Slack, sandbox and front door; no process yet (`start` them).
    Every process still running at the end is stopped (SIGTERM)."""
    slack = FakeSlackAPI()
    partner_app = create_outgoing_app(sandbox or SandboxConfig.fast())
    partner_gates, slack_gates = Gates(partner_app), Gates(slack.app)
    rig: ServeRig | None = None
    async with contextlib.AsyncExitStack() as stack:
        if database == "postgresql":
            database_url = await stack.enter_async_context(postgres_database("serve"))
        else:
            database_url = f"sqlite:///{tmp / 'serve.db'}"
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        door = FrontDoor(lambda: rig.up() if rig else [], http)
        slack_url = await stack.enter_async_context(serve_in_background(slack_gates))
        outgoing_url = await stack.enter_async_context(serve_in_background(partner_gates))
        door_url = await stack.enter_async_context(serve_in_background(door.app))
        env = {
            "CONCIERGE_DATABASE_URL": database_url,
            "CONCIERGE_SECRET_KEY": generate_key(),
            "CONCIERGE_HOST": "127.0.0.1",
            "CONCIERGE_PUBLIC_URL": door_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{slack_url}/api/",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "OUTGOING_API_URL": outgoing_url,
            "OUTGOING_API_KEY": DEFAULT_NEGOTIATED_KEY,
        }
        partner = sandbox_state(partner_app)
        rig = ServeRig(tmp, zygote, env, slack, partner, partner_gates, slack_gates, door, http)
        try:
            yield rig
        finally:
            partner_gates.release_all()
            slack_gates.release_all()
            door.reopen()
            await asyncio.gather(*(rig.stop(name) for name in rig.processes))
