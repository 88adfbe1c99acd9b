"""Slack front-end: ack latency and replies delivered under load, against a bare bolt echo app.

Run: `uv run python -m tests.benchmarks.bench_slack [--events 200] [--concurrency 20]
[--search-latency 2] [--database-url postgresql://postgres@127.0.0.1:5432/test]`

N signed DM events (each from its own person, so each is its own conversation) are posted at
concurrency C to `serve` with the Slack front-end, a scripted model (search, then one line)
and the Outgoing sandbox answering searches after `--search-latency` seconds. Then the same
N events go to a bare slack-bolt echo app (ack, then `say` the text back). Each app runs in
its own process; this process sends the load and serves the fake Slack Web API and the
sandbox. Printed: ack latency p50/p99 (time to the HTTP answer Slack waits for), replies
delivered (calls to `chat.postMessage`/`chat.update` at the fake) and the concierge/echo
ratios. The concierge's answer per event is a status line, its replacement by the cards and
the model's line (2 posts + 1 update); the echo's is 1 post.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from integrations.sandbox import SandboxConfig, running_outgoing_sandbox, serve_in_background
from tests.benchmarks.processes import free_port, server_process
from tests.bot.slack.fake_slack import FakeSlackAPI
from tests.bot.slack.harness import APP_ID, BOT_TOKEN, SECRET, dm, event_callback, sign

EVENTS_PATH = "/slack/events"


# ---- the two apps, each run in a child process ---------------------------------------------


def serve_concierge(port: int, slack_url: str, outgoing_url: str, database_url: str) -> None:
    from bot.server import create_app
    from bot.slack import SlackFrontEnd
    from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolCallPart, ToolResultPart
    from tests.bot.slack.harness import slack_settings

    class SearchThenAnswer:
        """A zero-latency scripted model: search, then one line about the results."""

        async def complete(self, request: LLMRequest) -> LLMResponse:
            if any(isinstance(p, ToolResultPart) for p in request.messages[-1].parts):
                return LLMResponse((TextPart("Here are some ideas."),))
            args = {"prompt": "jazz", "location": "Brooklyn"}
            return LLMResponse((ToolCallPart("call_1", "search_activities", args),), "tool_use")

    settings = slack_settings(database_url, slack_url, outgoing_url)
    app = create_app(settings, front_ends=[SlackFrontEnd(settings)], llm=SearchThenAnswer())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_echo(port: int, slack_url: str) -> None:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp, AsyncSay
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=f"{slack_url}/api/"),
    )

    @app.event("message")
    async def echo(event: dict[str, str], say: AsyncSay) -> None:
        await say(event.get("text", ""))

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    web = Starlette(
        routes=[Route(EVENTS_PATH, events, methods=["POST"]), Route("/healthz", healthz)]
    )
    uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- the load ------------------------------------------------------------------------------


def child(*args: str) -> contextlib.AbstractAsyncContextManager[str]:
    port = free_port()
    module = ("tests.benchmarks.bench_slack", "--child", *args, "--port", str(port))
    return server_process(*module, port=port, ready_path="/healthz")


@dataclass
class Figures:
    acks: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    replies: int = 0
    settled_s: float = 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    url: str, slack: FakeSlackAPI, events: int, concurrency: int, expect: int, tag: str
) -> Figures:
    figures, gate = Figures(), asyncio.Semaphore(concurrency)
    before = len(slack.of("chat.postMessage", "chat.update"))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(n: int) -> None:
            event = dm("find jazz in Brooklyn", user=f"U{tag}{n:05d}", channel=f"D{tag}{n:05d}")
            body = json.dumps(event_callback(event, event_id=f"Ev{tag}{n:06d}")).encode()
            headers = {"Content-Type": "application/json", **sign(body)}
            async with gate:
                started = time.perf_counter()
                response = await http.post(f"{url}{EVENTS_PATH}", content=body, headers=headers)
                figures.acks.append(time.perf_counter() - started)
                figures.statuses.append(response.status_code)

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(events)))
        deadline = time.monotonic() + 45
        while len(slack.of("chat.postMessage", "chat.update")) - before < expect:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        figures.settled_s = time.perf_counter() - started
    figures.replies = len(slack.of("chat.postMessage", "chat.update")) - before
    return figures


def report(name: str, figures: Figures, expect: int) -> None:
    ms = 1000.0
    ok = sum(1 for s in figures.statuses if s == 200)
    print(f"{name}:")
    print(f"  acks 200                 {ok:8d} / {len(figures.statuses)}")
    print(
        f"  ack latency p50/p99      {pct(figures.acks, 0.5) * ms:8.2f} / "
        f"{pct(figures.acks, 0.99) * ms:.2f} ms (max {max(figures.acks) * ms:.2f})"
    )
    print(f"  replies delivered        {figures.replies:8d} (expected {expect})")
    print(f"  all delivered after      {figures.settled_s:8.2f} s")


@contextlib.asynccontextmanager
async def fresh_database(server: str | None, tmp: Path) -> AsyncIterator[str]:
    """A new SQLite file, or a new database on the PostgreSQL server at `server`."""
    if server is None:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"bench_slack_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(server).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(events: int, concurrency: int, search_latency: float, database: str | None) -> None:
    slack = FakeSlackAPI()
    sandbox = SandboxConfig.fast(search_latency_s=search_latency)
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            fresh_database(database, Path(tmp)) as database_url,
            serve_in_background(slack.app) as slack_url,
            running_outgoing_sandbox(sandbox) as outgoing,
        ):
            print(
                f"{events} signed DM events at concurrency {concurrency}; "
                f"sandbox search latency {search_latency:.1f} s; "
                f"{database_url.split(':')[0]}; app {APP_ID}\n"
            )
            async with child("concierge", slack_url, outgoing.base_url, database_url) as url:
                # Warm up: auth.test, connection pools, Outgoing key detection.
                await drive(url, slack, 3, 3, 9, "warm")
                concierge = await drive(url, slack, events, concurrency, 3 * events, "c")
            async with child("echo", slack_url) as url:
                await drive(url, slack, 3, 3, 3, "warmecho")
                echo = await drive(url, slack, events, concurrency, events, "e")
    report("concierge (serve + Slack front-end, search turns)", concierge, 3 * events)
    report("bare slack-bolt echo app", echo, events)
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        ratio = pct(concierge.acks, q) / pct(echo.acks, q)
        print(f"ack latency ratio {label} (concierge / echo): {ratio:.2f}")
    print(
        f"mean ack: concierge {statistics.fmean(concierge.acks) * 1000:.2f} ms, "
        f"echo {statistics.fmean(echo.acks) * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--search-latency", type=float, default=2.0)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        kind, *urls = args.child
        if kind == "concierge":
            serve_concierge(args.port, urls[0], urls[1], urls[2])
        else:
            serve_echo(args.port, urls[0])
        return
    asyncio.run(run(args.events, args.concurrency, args.search_latency, args.database_url))


if __name__ == "__main__":
    main()
