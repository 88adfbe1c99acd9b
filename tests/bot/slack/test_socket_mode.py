"""Socket Mode: with `SLACK_APP_TOKEN` set, the same bolt app takes events over a WebSocket
(slack_sdk's aiohttp client) and acknowledges each envelope; the answer goes to the Web API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.bot.slack.fake_slack import FakeSlackAPI
from tests.bot.slack.harness import dm, event_callback, running_slack, sqlite_url
from tests.fakes.llm import ScriptedLLM


@contextlib.asynccontextmanager
async def socket_server(
    envelopes: list[dict[str, Any]], acks: list[dict[str, Any]]
) -> AsyncIterator[str]:
    """Slack's side of Socket Mode on loopback: hello, the envelopes, then collect acks."""

    async def link(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        for envelope in envelopes:
            await ws.send_json(envelope)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                acks.append(json.loads(message.data))
        return ws

    app = web.Application()
    app.router.add_get("/link", link)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}/link"
    finally:
        await runner.cleanup()


async def test_events_arrive_over_socket_mode_and_are_acknowledged(tmp_path: Path) -> None:
    message = dm("hi over the socket")
    envelope = {
        "envelope_id": "env-1",
        "type": "events_api",
        "payload": event_callback(message),
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    acks: list[dict[str, Any]] = []
    slack = FakeSlackAPI()
    model = ScriptedLLM(["Hello through the socket."])
    async with socket_server([envelope, envelope], acks) as socket_url:
        slack.socket_url = socket_url
        async with running_slack(
            model, database_url=sqlite_url(tmp_path), slack=slack, SLACK_APP_TOKEN="xapp-1-test"
        ) as rig:
            await rig.slack.wait_for(lambda: len(acks) == 2 and len(rig.slack.posts) == 1)
            await rig.settle()
            await asyncio.sleep(0.1)
    assert [a["envelope_id"] for a in acks] == ["env-1", "env-1"]
    (opened,) = slack.of("apps.connections.open")
    assert opened.token == "xapp-1-test"
    (post,) = slack.posts  # the redelivered envelope was a duplicate
    assert post.args["channel"] == "D0ALICE" and "Hello through the socket." in post.block_text
