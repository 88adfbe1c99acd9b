"""The bind doors (API and page) take a limited number of failed attempts: 10 per client
address and 20 per workspace in any 10 minutes, then 429 with `Retry-After`. Successful
binds, and Outgoing being down, do not count; one warning per burst, never the token.

Driven through `serve`'s real HTTP routes against the Outgoing sandbox's `/auth`. Clients
come from different loopback addresses (127.0.0.x) to be different peers; the throttle's
clock is a test clock, so the window passes without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.bind import PER_ADDRESS, BindThrottle
from bot.server import create_app
from bot.services import Services
from bot.settings import Settings
from bot.throttle import Limit, client_key
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_SELF_SERVE_KEY,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
    serve_in_background,
)
from integrations.sandbox.middleware import API_PREFIX
from storage import generate_key
from storage.models import WorkspaceCredential

BIND = "/partner/v1/slack/workspaces/bind"
REJECTED_KEY = "og_api_sandbox_unknown_key_123"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    url: str
    services: Services
    sandbox: RunningSandbox
    clock: Clock
    tokens: list[str] = field(default_factory=list)
    """Every token handed out, to check none is ever logged."""

    async def token(self, team: str = "T1") -> str:
        token = await self.services.workspaces.issue_bind_token(
            platform="slack", workspace_external_id=team, issued_by="U_ADMIN"
        )
        self.tokens.append(token)
        return token

    def client(self, peer: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=peer)
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=10)

    async def bind(
        self,
        token: str,
        key: str = DEFAULT_NEGOTIATED_KEY,
        *,
        peer: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with self.client(peer) as http:
            return await http.post(
                BIND,
                json={"bind_token": token},
                headers={"Authorization": f"Bearer {key}", **(headers or {})},
            )

    async def bind_on_page(
        self, token: str, key: str = DEFAULT_NEGOTIATED_KEY, *, peer: str = "127.0.0.1"
    ) -> httpx.Response:
        async with self.client(peer) as http:
            page = await http.get(f"/bind?token={token}")
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found is not None, page.text
            form = {"csrf": found.group(1), "token": token, "outgoing_key": key}
            return await http.post("/bind", data=form)

    def auth_checks(self) -> int:
        return len(self.sandbox.state.requests_to(f"{API_PREFIX}/auth"))

    async def credentials(self) -> list[WorkspaceCredential]:
        async with self.services.db.session() as session:
            return list((await session.exec(select(WorkspaceCredential))).all())


@contextlib.asynccontextmanager
async def _serve(
    tmp_path: Path, outgoing_url: str | None = None, per_address: Limit = PER_ADDRESS
) -> AsyncIterator[Server]:
    async with running_outgoing_sandbox(SandboxConfig.fast()) as sandbox:
        settings = Settings(
            CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'throttle.db'}",
            CONCIERGE_SECRET_KEY=generate_key(),
            OUTGOING_API_URL=outgoing_url or sandbox.base_url,
        )
        clock = Clock()
        throttle = BindThrottle(per_address, clock=clock)
        app = create_app(settings, front_ends=[], bind_throttle=throttle)
        async with serve_in_background(app) as url:
            yield Server(url, app.state.services, sandbox, clock)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with _serve(tmp_path) as running:
        yield running


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.bind" and r.levelno == logging.WARNING
    ]


def _no_token_logged(caplog: pytest.LogCaptureFixture, server: Server) -> None:
    """Nothing the server logged names a token (the test's own httpx client logs the page's
    URL, token included, as a browser's history would hold it: that is not the server)."""
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert not [t for t in [*server.tokens, "no-such-token"] if t in logged]


async def test_the_eleventh_failed_attempt_from_an_address_waits(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    guesses = [await server.bind(f"no-such-token-{n}") for n in range(10)]
    assert {(r.status_code, r.json()["code"]) for r in guesses} == {(404, "unknown_token")}
    token = await server.token()
    checks = server.auth_checks()
    refused = [await server.bind(token), await server.bind("no-such-token")]
    for response in refused:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "600"
        assert response.json() == {
            "error": "Too many bind attempts; try again in 10 minutes.",
            "code": "too_many_attempts",
        }
    assert server.auth_checks() == checks  # a refused attempt never reaches Outgoing
    assert await server.credentials() == []  # … nor binds, even with a good token and key
    # Another client is not held up by this one.
    other = await server.bind(token, peer="127.0.0.2")
    assert other.json() == {"ok": True, "team_id": "T1", "bound": True}
    # The wait shrinks as the window slides, and ends with it.
    server.clock.now += 599.2
    assert (await server.bind("no-such-token")).headers["retry-after"] == "1"
    server.clock.now += 1
    assert (await server.bind("no-such-token")).status_code == 404
    (warning,) = _warnings(caplog)  # one per burst, not one per refused attempt
    assert "127.0.0.1" in warning and "throttled" in warning
    _no_token_logged(caplog, server)


async def test_successful_binds_do_not_count(server: Server) -> None:
    token = await server.token()
    for n in range(9):
        assert (await server.bind(f"no-such-token-{n}")).status_code == 404
    binds = [await server.bind(token) for _ in range(5)]  # the first binds, then "already"
    assert [r.status_code for r in binds] == [200] * 5
    assert (await server.bind("no-such-token")).status_code == 404  # the 10th failure
    assert (await server.bind(token)).status_code == 429


async def test_the_page_shares_the_limit_and_says_how_long_to_wait(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = await server.token()
    for _ in range(5):
        wrong = await server.bind_on_page(token, REJECTED_KEY)
        assert wrong.status_code == 401 and "did not accept that key" in wrong.text
    for n in range(5):
        assert (await server.bind(f"no-such-token-{n}")).status_code == 404
    server.clock.now += 300
    async with server.client() as http:
        page = await http.get(f"/bind?token={token}")
        submitted = await http.post(
            "/bind", data={"csrf": "c", "token": token, "outgoing_key": DEFAULT_NEGOTIATED_KEY}
        )
    for response in (page, submitted):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "300"
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["x-frame-options"] == "DENY"
        assert "Too many attempts" in response.text and "wait 5 minutes" in response.text
        assert "set-cookie" not in response.headers
    assert (await server.bind(token)).status_code == 429  # the API door, same address
    assert await server.credentials() == []
    assert len(_warnings(caplog)) == 1
    _no_token_logged(caplog, server)


async def test_a_workspace_takes_20_failures_from_any_number_of_addresses(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = await server.token("T1")
    peers = [f"127.0.0.{n}" for n in range(2, 6)]
    answers = [
        await server.bind(token, REJECTED_KEY if n % 2 else "not-an-outgoing-key", peer=peer)
        for peer in peers
        for n in range(5)  # five from each: each address stays under its own limit
    ]
    assert {r.status_code for r in answers} == {401}
    fresh = "127.0.0.9"
    refused = await server.bind(token, peer=fresh)  # the right key, from a new address
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) == 600
    assert await server.credentials() == []
    # Other workspaces, and tokens that belong to none, are not affected.
    other = await server.bind(await server.token("T2"), peer=fresh)
    assert other.json() == {"ok": True, "team_id": "T2", "bound": True}
    assert (await server.bind("no-such-token", peer=fresh)).status_code == 404
    assert (await server.bind_on_page(token, peer="127.0.0.10")).status_code == 429
    (warning,) = _warnings(caplog)
    assert "workspace slack:T1" in warning
    _no_token_logged(caplog, server)


async def test_x_forwarded_for_from_an_untrusted_peer_changes_nothing(server: Server) -> None:
    """Only the ASGI server's own proxy handling (uvicorn trusts 127.0.0.1 by default) may
    replace the peer address; from any other peer the header is ignored."""
    for n in range(10):
        forwarded = {"X-Forwarded-For": f"203.0.113.{n}"}
        response = await server.bind("no-such-token", peer="127.0.0.3", headers=forwarded)
        assert response.status_code == 404
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    refused = await server.bind("no-such-token", peer="127.0.0.3", headers=forwarded)
    assert refused.status_code == 429


async def test_concurrent_guesses_cannot_overtake_the_limit(server: Server) -> None:
    answers = await asyncio.gather(
        *(server.bind(f"no-such-token-{n}", peer="127.0.0.4") for n in range(30))
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [404] * 10 + [429] * 20


async def test_outgoing_being_down_is_not_the_clients_failure(tmp_path: Path) -> None:
    # A limit of 2 (not 10) keeps the test short: each attempt waits for the client's retries.
    down = "http://127.0.0.1:9"
    async with _serve(tmp_path, outgoing_url=down, per_address=Limit(2, 600)) as server:
        token = await server.token()
        answers = [await server.bind(token, DEFAULT_SELF_SERVE_KEY) for _ in range(3)]
        assert {(r.status_code, r.json()["code"]) for r in answers} == {
            (502, "outgoing_unavailable")
        }


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_keys_group_an_ipv6_subscriber_by_its_64(host: str | None, key: str) -> None:
    assert client_key(host) == key
