"""The partner webhook routes answer malformed or oversized bodies with a 4xx, never a 5xx,
and change nothing. Driven through `serve`'s real HTTP routes.

- Outgoing's booking webhook (unsigned, capability URL): one 404 for every failure, so a
  prober learns nothing; over 64 KiB → 413 before the body is read further.
- The Call Agent's `ask_user` webhook (signed): unknown URL 404, bad signature 401, a signed
  body that is not an `ask_user` object 400, over 64 KiB 413.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.server import create_app
from bot.services import Services
from bot.settings import Settings
from conversations import ConversationAddress
from conversations.booking.config import WEBHOOK_PATH as BOOKING_PATH
from conversations.capabilities.callagent.access import WEBHOOK_PATH as CALL_PATH
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    running_callagent_sandbox,
    serve_in_background,
)
from storage import generate_key, new_token
from tests.bot.partners import seed_call_webhook
from tests.bot.rows import row_counts

HOOK_SECRET = "whsec-test-secret"

BAD_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not JSON": b"{not json",
    "not UTF-8": b'{"status": "\xff"}',
    "JSON array": b'[{"type": "ask_user"}]',
    "JSON null": b"null",
    "JSON string": b'"confirmed"',
    "object of the wrong shape": b'{"type": 5, "status": []}',
    "nested deep": b"[" * 20_000 + b"]" * 20_000,
}
OVERSIZED = b'{"padding": "' + b"x" * (64 * 1024) + b'"}'


@dataclass
class Server:
    url: str
    services: Services
    http: httpx.AsyncClient
    call_hook: str


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_callagent_sandbox(CallAgentSandboxConfig.fast()) as calls:
        settings = Settings(
            CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'hooks.db'}",
            CONCIERGE_SECRET_KEY=generate_key(),
            CALL_AGENT_API_URL=calls.base_url,
            CALL_AGENT_API_KEY=DEFAULT_CALL_AGENT_KEY,
        )
        app = create_app(settings, front_ends=[])
        async with serve_in_background(app) as url, httpx.AsyncClient(timeout=10) as http:
            services: Services = app.state.services
            here = ConversationAddress("slack", "T1", "D1", "")
            hook = await seed_call_webhook(services, here, url, HOOK_SECRET)
            yield Server(url, services, http, hook)


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_booking_webhook_answers_bad_bodies_with_one_404(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    before = await row_counts(server.services.db)
    hook = f"{server.url}{BOOKING_PATH}{new_token()}"
    answers = {
        name: (await server.http.post(hook, content=body)).status_code
        for name, body in BAD_BODIES.items()
    }
    oversized = await server.http.post(hook, content=OVERSIZED)
    well_formed = json.dumps(
        {"booking_id": "b1", "idempotency_key": "k1", "status": "confirmed"}
    ).encode()
    unknown_token = await server.http.post(hook, content=well_formed)
    assert answers == dict.fromkeys(BAD_BODIES, 404)
    assert unknown_token.status_code == 404
    assert unknown_token.json() == {"error": "not found"}  # the same answer for every failure
    assert oversized.status_code == 413
    assert await row_counts(server.services.db) == before
    assert _errors(caplog) == []


async def test_the_ask_user_webhook_answers_bad_bodies_with_a_4xx(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    before = await row_counts(server.services.db)
    signed = {
        name: (await server.http.post(server.call_hook, content=b, headers=_signed(b))).status_code
        for name, b in BAD_BODIES.items()
    }
    unsigned = {
        name: (await server.http.post(server.call_hook, content=b)).status_code
        for name, b in BAD_BODIES.items()
    }
    unknown = await server.http.post(
        f"{server.url}{CALL_PATH}{new_token()}", content=b"{}", headers=_signed(b"{}")
    )
    oversized = await server.http.post(
        server.call_hook, content=OVERSIZED, headers=_signed(OVERSIZED)
    )
    assert signed == dict.fromkeys(BAD_BODIES, 400)
    assert unsigned == dict.fromkeys(BAD_BODIES, 401)
    assert unknown.status_code == 404
    assert oversized.status_code == 413
    assert await row_counts(server.services.db) == before
    assert _errors(caplog) == []
