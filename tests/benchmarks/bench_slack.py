"""Slack front-end: ack latency and answers shown under load, against a bare bolt echo app.

Run: `uv run python -m tests.benchmarks.bench_slack [--events 200] [--concurrency 20]
[--new 50] [--search-latency 2] [--database-url sqlite]
[--database-url postgresql://postgres@127.0.0.1:5432/test]` (each `--database-url` in turn,
in the same run; `sqlite` is a fresh file, the default)

Two scenarios, each run against `serve` with the Slack front-end (a zero-latency scripted
model: search, then one line; the Outgoing sandbox answering searches after
`--search-latency` seconds) and then against a bare slack-bolt echo app (ack, then `say`):

1. N signed DM events (each from its own person, so each its own conversation) at
   concurrency C.
2. N events sent at once, so N searches are in flight, then `--new` events all at once:
   the acks measured are those of the new events.

Each app runs in its own process; this process sends the load and serves the fake Slack Web
API and the sandbox, with its garbage collector off while it measures. Printed: ack latency
p50/p99 (the HTTP answer Slack waits for), answers shown (a conversation counts once it
shows the cards and the model's line: status refreshes are not answers), conversations
shown one message twice, when the last answer was complete, and the concierge/echo ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from integrations.sandbox import SandboxConfig, running_outgoing_sandbox, serve_in_background
from tests.benchmarks.processes import free_port, fresh_database, server_process
from tests.bot.slack.fake_slack import Call, FakeSlackAPI
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
    gc.collect()
    gc.freeze()  # as `serve` does once started: the baseline gets the same help
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
    answered: int = 0
    twice: int = 0  # conversations shown one message twice (a second status line, say)
    last_answer_s: float = 0.0  # from the first event sent to the last answer complete


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Answered = Callable[[list[Call]], bool]
"""Whether a conversation's calls at the fake Slack show its whole answer."""


def concierge_answered(calls: list[Call]) -> bool:
    """The cards (the status line edited into them) and the model's line."""
    shown = " ".join(c.block_text or str(c.args.get("text", "")) for c in calls)
    return "Details" in shown and "Here are some ideas." in shown


def echo_answered(calls: list[Call]) -> bool:
    return any(c.method == "chat.postMessage" for c in calls)


async def send(url: str, events: int, concurrency: int, tag: str, figures: Figures) -> list[str]:
    """Post `events` signed DMs, each from its own person in its own channel; the channels."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    channels = [f"D{tag}{n:05d}" for n in range(events)]
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(n: int) -> None:
            event = dm("find jazz in Brooklyn", user=f"U{tag}{n:05d}", channel=channels[n])
            body = json.dumps(event_callback(event, event_id=f"Ev{tag}{n:06d}")).encode()
            headers = {"Content-Type": "application/json", **sign(body)}
            async with gate:
                started = time.perf_counter()
                response = await http.post(f"{url}{EVENTS_PATH}", content=body, headers=headers)
                figures.acks.append(time.perf_counter() - started)
                figures.statuses.append(response.status_code)

        await asyncio.gather(*(one(n) for n in range(events)))
    return channels


async def answers(
    slack: FakeSlackAPI, channels: list[str], answered: Answered, since: float, figures: Figures
) -> None:
    """Wait (at most 45 s) until every channel shows its answer; count them and note when
    the last one was complete. Answers, not posts: a status refresh is not an answer."""
    waiting, deadline = set(channels), time.monotonic() + 45
    done_at: list[float] = []
    while waiting and time.monotonic() < deadline:
        by_channel: dict[str, list[Call]] = {}
        for c in slack.of("chat.postMessage", "chat.update"):
            by_channel.setdefault(str(c.args.get("channel")), []).append(c)
        for channel in list(waiting):
            calls = by_channel.get(channel, [])
            if answered(calls):
                waiting.discard(channel)
                done_at.append(max(c.at for c in calls))
        await asyncio.sleep(0.05)
    figures.answered = len(channels) - len(waiting)
    posted: dict[str, list[str]] = {}
    for c in slack.of("chat.postMessage"):
        posted.setdefault(str(c.args.get("channel")), []).append(c.block_text or str(c.args))
    figures.twice = sum(
        1 for ch in channels if len(set(posted.get(ch, []))) < len(posted.get(ch, []))
    )
    figures.last_answer_s = (max(done_at) - since) if done_at else float("nan")


async def drive(
    url: str, slack: FakeSlackAPI, events: int, concurrency: int, answered: Answered, tag: str
) -> Figures:
    """N events at concurrency C: their acks, and their answers."""
    figures = Figures()
    since = time.monotonic()
    channels = await send(url, events, concurrency, tag, figures)
    await answers(slack, channels, answered, since, figures)
    return figures


async def drive_in_flight(
    url: str, slack: FakeSlackAPI, busy: int, new: int, answered: Answered, tag: str
) -> Figures:
    """`busy` events sent (their searches then in flight), then `new` events all at once:
    the acks are the new ones'; the answers counted are everyone's."""
    since = time.monotonic()
    channels = await send(url, busy, busy, f"{tag}b", Figures())
    figures = Figures()
    channels += await send(url, new, new, f"{tag}n", figures)
    await answers(slack, channels, answered, since, figures)
    return figures


def report(name: str, figures: Figures, expect: int) -> None:
    ms = 1000.0
    ok = sum(1 for s in figures.statuses if s == 200)
    print(f"  {name}:")
    print(f"    acks 200               {ok:8d} / {len(figures.statuses)}")
    print(
        f"    ack latency p50/p99    {pct(figures.acks, 0.5) * ms:8.2f} / "
        f"{pct(figures.acks, 0.99) * ms:.2f} ms (max {max(figures.acks) * ms:.2f})"
    )
    print(f"    answers shown          {figures.answered:8d} / {expect}")
    print(f"    a message posted twice {figures.twice:8d} conversations")
    print(f"    last answer after      {figures.last_answer_s:8.2f} s")


def compare(concierge: Figures, echo: Figures) -> None:
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        ratio = pct(concierge.acks, q) / pct(echo.acks, q)
        print(f"  ack latency ratio {label} (concierge / echo): {ratio:.2f}")
    print(
        f"  mean ack: concierge {statistics.fmean(concierge.acks) * 1000:.2f} ms, "
        f"echo {statistics.fmean(echo.acks) * 1000:.2f} ms"
    )


async def run(
    events: int, concurrency: int, search_latency: float, new: int, database: str | None
) -> None:
    slack = FakeSlackAPI()
    sandbox = SandboxConfig.fast(search_latency_s=search_latency)
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            fresh_database(database, Path(tmp), "bench_slack") as database_url,
            serve_in_background(slack.app) as slack_url,
            running_outgoing_sandbox(sandbox) as outgoing,
        ):
            # The load, the fake Slack and the sandbox run here: a full collection in this
            # process (200 ms with every call recorded) would stall both apps' figures.
            gc.collect()
            gc.disable()
            print(
                f"{events} signed DM events at concurrency {concurrency}, then {events} in "
                f"flight + {new} new at once; sandbox search latency {search_latency:.1f} s; "
                f"{database_url.split(':')[0]}; app {APP_ID}\n"
            )
            async with child("concierge", slack_url, outgoing.base_url, database_url) as url:
                # Warm up: auth.test, connection pools, Outgoing key detection.
                await drive(url, slack, 3, 3, concierge_answered, "warm")
                concierge = await drive(url, slack, events, concurrency, concierge_answered, "c")
                busy = await drive_in_flight(url, slack, events, new, concierge_answered, "f")
            async with child("echo", slack_url) as url:
                await drive(url, slack, 3, 3, echo_answered, "warmecho")
                echo = await drive(url, slack, events, concurrency, echo_answered, "e")
                echo_busy = await drive_in_flight(url, slack, events, new, echo_answered, "g")
    gc.enable()
    print(f"{events} events at concurrency {concurrency}:")
    report("concierge (serve + Slack front-end, search turns)", concierge, events)
    report("bare slack-bolt echo app", echo, events)
    compare(concierge, echo)
    print(f"\n{new} new events while {events} searches are in flight (acks of the new ones):")
    report("concierge", busy, events + new)
    report("bare slack-bolt echo app", echo_busy, events + new)
    compare(busy, echo_busy)
    print(
        f"\nslowest search {search_latency:.1f} s; last answer "
        f"{busy.last_answer_s - search_latency:+.2f} s after it (in flight run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--search-latency", type=float, default=2.0)
    parser.add_argument("--new", type=int, default=50, help="new events while others run")
    parser.add_argument(
        "--database-url",
        action="append",
        help="repeatable; `sqlite` (the default) is a fresh SQLite file",
    )
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
    for database in args.database_url or ["sqlite"]:
        url = None if database == "sqlite" else database
        asyncio.run(run(args.events, args.concurrency, args.search_latency, args.new, url))
        print()


if __name__ == "__main__":
    main()
