"""The bind API follows the Outgoing spec's bind operation, which is its contract: a real
`serve` app (with the Outgoing sandbox checking keys) gets schemathesis' valid and invalid
requests for `POST /partner/v1/slack/workspaces/bind`, with the checks of `checks.py`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import settings

from bot.bind import BindThrottle
from bot.server import create_app
from bot.settings import Settings
from bot.throttle import Limit
from conversations.workspaces import BIND_API_PATH
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    SandboxConfig,
    running_outgoing_sandbox,
    serve_in_background,
)
from storage import generate_key
from tests.contracts.checks import EXAMPLES, SPECS, Case, validate

spec = schemathesis.openapi.from_path(SPECS / "outgoing-partner-api.openapi.json").include(
    path=BIND_API_PATH
)
# Thousands of refusals in a few seconds: the throttle's own limits are tested elsewhere.
ROOMY = Limit(attempts=100_000, window_s=600)


@pytest.fixture(scope="module")
def bind_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`serve`'s app with the sandbox, on loopback, on an event loop of its own thread (the
    generated cases are sent synchronously)."""
    database = tmp_path_factory.mktemp("bind") / "bind.db"
    started: asyncio.Future[str] = asyncio.Future(loop=asyncio.new_event_loop())
    loop = started.get_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    url: list[str] = []

    async def serve() -> None:
        async with running_outgoing_sandbox(SandboxConfig.fast()) as sandbox:
            settings = Settings(
                CONCIERGE_DATABASE_URL=f"sqlite:///{database}",
                CONCIERGE_SECRET_KEY=generate_key(),
                OUTGOING_API_URL=sandbox.base_url,
            )
            throttle = BindThrottle(ROOMY, ROOMY)
            app = create_app(settings, front_ends=[], bind_throttle=throttle)
            async with serve_in_background(app) as base:
                url.append(base)
                ready.set()
                await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the bind server did not start"
    yield url[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


@spec.parametrize()
@settings(EXAMPLES, max_examples=150)  # one operation: many bodies and headers for it
def test_the_bind_api_follows_the_outgoing_spec(case: Case, bind_server: str) -> None:
    validate(case, {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"}, base_url=bind_server)
