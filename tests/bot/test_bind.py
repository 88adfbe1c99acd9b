"""Binding a workspace's Outgoing key through both doors, against the sandbox's `/auth`."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select, update

from bot.server import create_app
from bot.services import Services
from bot.settings import Settings
from conversations import ConversationAddress, InboundMessage, Sender
from conversations.llm import LLMRequest, LLMResponse, ToolResultPart
from conversations.manager import new_event_id
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_SELF_SERVE_KEY,
    RunningSandbox,
    SandboxConfig,
    running_outgoing_sandbox,
    serve_in_background,
)
from storage import generate_key
from storage.models import BindToken, Message, Person, WorkspaceCredential
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM, call, calls, text

SECOND_NEGOTIATED = "og_api_sandbox_negotiated_second"
BIND = "/partner/v1/slack/workspaces/bind"
WELCOME = ConversationAddress("slack", "T1", "D_ADMIN", "")


@dataclass
class Server:
    url: str
    services: Services
    sandbox: RunningSandbox

    async def token(self, team: str = "T1", notify: ConversationAddress | None = None) -> str:
        return await self.services.workspaces.issue_bind_token(
            platform="slack", workspace_external_id=team, issued_by="U_ADMIN", notify=notify
        )

    async def bind(self, token: str, key: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient() as http:
            return await http.post(f"{self.url}{BIND}", json={"bind_token": token}, headers=headers)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    keys = frozenset({DEFAULT_NEGOTIATED_KEY, SECOND_NEGOTIATED})
    async with running_outgoing_sandbox(SandboxConfig.fast(negotiated_keys=keys)) as sandbox:
        settings = Settings(
            CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'bind.db'}",
            CONCIERGE_SECRET_KEY=generate_key(),
            OUTGOING_API_URL=sandbox.base_url,
        )
        app = create_app(settings, front_ends=[], llm=FunctionLLM(_search_then_ok))
        async with serve_in_background(app) as url:
            yield Server(url, app.state.services, sandbox)


def _search_then_ok(request: LLMRequest) -> LLMResponse:
    """Searches on "jazz", says hello otherwise, and "ok" after any tool result."""
    last = request.messages[-1]
    if any(isinstance(p, ToolResultPart) for p in last.parts):
        return text("ok")
    if "jazz" in str(last):
        return calls(call("search_activities", prompt="jazz"))
    return text("Hello!")


async def test_api_door_binds_once_and_reports_rebinds(server: Server) -> None:
    token = await server.token(notify=WELCOME)
    first = await server.bind(token, DEFAULT_NEGOTIATED_KEY)
    assert first.status_code == 200
    assert first.json() == {"ok": True, "team_id": "T1", "bound": True}
    again = await server.bind(token, DEFAULT_NEGOTIATED_KEY)
    assert again.json() == {"ok": True, "team_id": "T1", "bound": False}
    other = await server.bind(token, SECOND_NEGOTIATED)
    assert other.status_code == 409 and other.json()["code"] == "token_used"
    async with server.services.db.session() as session:
        (credential,) = (await session.exec(select(WorkspaceCredential))).all()
    assert credential.kind == "negotiated"
    assert DEFAULT_NEGOTIATED_KEY.encode() not in credential.key_ciphertext
    # A new token replaces the key, and the welcome DM is told each time a key is bound.
    rebind = await server.bind(await server.token(notify=WELCOME), DEFAULT_SELF_SERVE_KEY)
    assert rebind.json() == {"ok": True, "team_id": "T1", "bound": True}
    async with server.services.db.session() as session:
        (credential,) = (await session.exec(select(WorkspaceCredential))).all()
        queued = await session.exec(select(col(BindToken.id)))
    assert credential.kind == "self_serve" and len(queued.all()) == 2
    told = RecordingReplier()
    server.services.outlets["slack"] = _Outlet(told)
    await server.services.outbox.deliver_due()
    assert len(told.texts) == 2 and "personal (self-serve) key" in told.texts[1]


class _Outlet:
    def __init__(self, chat: RecordingReplier) -> None:
        self.chat = chat

    def replier_for(self, address: ConversationAddress) -> RecordingReplier | None:
        return self.chat if address == WELCOME else None


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 401, "key_malformed"),
        ("not-an-outgoing-key", 401, "key_malformed"),
        ("og_api_sandbox_unknown_key_123", 401, "key_invalid"),
    ],
    ids=["missing", "malformed", "rejected"],
)
async def test_bad_keys_change_nothing(
    server: Server, key: str | None, status: int, code: str
) -> None:
    token = await server.token()
    response = await server.bind(token, key)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await server.bind(token, DEFAULT_NEGOTIATED_KEY)).status_code == 200


async def test_unknown_expired_and_malformed_requests(server: Server) -> None:
    unknown = await server.bind("no-such-token", DEFAULT_NEGOTIATED_KEY)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_token")
    token = await server.token()
    async with server.services.db.session() as session:
        await session.exec(
            update(BindToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await server.bind(token, DEFAULT_NEGOTIATED_KEY)
    assert (expired.status_code, expired.json()["code"]) == (400, "expired_token")
    async with httpx.AsyncClient() as http:
        headers = {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"}
        missing = await http.post(f"{server.url}{BIND}", json={}, headers=headers)
        garbage = await http.post(f"{server.url}{BIND}", content=b"{", headers=headers)
        huge = await http.post(f"{server.url}{BIND}", content=b"x" * 10_000, headers=headers)
    assert missing.status_code == garbage.status_code == 422
    assert huge.status_code == 413


async def test_concurrent_binds_with_two_keys_have_one_winner(server: Server) -> None:
    token = await server.token()
    results = await asyncio.gather(
        server.bind(token, DEFAULT_NEGOTIATED_KEY), server.bind(token, SECOND_NEGOTIATED)
    )
    assert sorted(r.status_code for r in results) == [200, 409]


async def test_outgoing_unreachable_is_said_and_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(
        CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'down.db'}",
        CONCIERGE_SECRET_KEY=generate_key(),
        OUTGOING_API_URL="http://127.0.0.1:9",
    )
    app = create_app(settings, front_ends=[])
    async with serve_in_background(app) as url:
        services: Services = app.state.services
        token = await services.workspaces.issue_bind_token(
            platform="slack", workspace_external_id="T1", issued_by=None
        )
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{url}{BIND}",
                json={"bind_token": token},
                headers={"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"},
            )
    assert (response.status_code, response.json()["code"]) == (502, "outgoing_unavailable")


async def test_two_workspaces_each_act_with_their_own_key(server: Server) -> None:
    assert (await server.bind(await server.token("T1"), DEFAULT_NEGOTIATED_KEY)).status_code == 200
    assert (await server.bind(await server.token("T2"), SECOND_NEGOTIATED)).status_code == 200
    manager = server.services.manager
    fingerprints: dict[str, set[str | None]] = {}
    for team in ("T1", "T2", "T1"):
        seen = len(server.sandbox.state.requests_to("/partner/v1/search"))
        address = ConversationAddress("slack", team, "C1", "")
        message = InboundMessage(address, Sender("U1"), "jazz", new_event_id())
        await manager.handle(message, RecordingReplier())
        searched = server.sandbox.state.requests_to("/partner/v1/search")[seen:]
        fingerprints.setdefault(team, set()).update(r.key_fingerprint for r in searched)
    assert len(fingerprints["T1"]) == len(fingerprints["T2"]) == 1
    assert fingerprints["T1"] != fingerprints["T2"]


async def test_forget_me_removes_the_person_and_their_history(server: Server) -> None:
    manager = server.services.manager
    address = ConversationAddress("slack", "T1", "D_U1", "")
    chat = RecordingReplier()

    async def say(text: str) -> str:
        await manager.handle(
            InboundMessage(address, Sender("U1", "Uma"), text, new_event_id()), chat
        )
        return chat.texts[-1]

    assert (await server.bind(await server.token("T1"), DEFAULT_NEGOTIATED_KEY)).status_code == 200
    await say("jazz")  # stores the turn; the search job provisions Uma with Outgoing
    await server.services.settle_jobs(10)
    async with server.services.db.session() as session:
        assert len((await session.exec(select(Person))).all()) == 1
    said = await say("forget me")
    assert said.startswith("Done. I deleted your profile and 5 stored messages (1 private")
    async with server.services.db.session() as session:
        assert (await session.exec(select(Person))).all() == []
        assert (await session.exec(select(Message))).all() == []
    assert await say("/concierge forget me") == "I had nothing stored about you here."


# --- the bind page ---------------------------------------------------------------------------


async def test_bind_page_is_csrf_protected_and_never_echoes_keys(server: Server) -> None:
    token = await server.token()
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/bind?token={token}")
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert '<label for="outgoing_key">' in page.text and "<script" not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "token": token, "outgoing_key": "og_api_wrong_key_123"}
        wrong = await http.post("/bind", data=form)
        assert wrong.status_code == 401 and "did not accept that key" in wrong.text
        assert "og_api_wrong_key_123" not in wrong.text
        forged = await http.post(
            "/bind", data={**form, "csrf": "forged", "outgoing_key": DEFAULT_NEGOTIATED_KEY}
        )
        assert forged.status_code == 403
        http.cookies.clear()
        no_cookie = await http.post("/bind", data={**form, "outgoing_key": DEFAULT_NEGOTIATED_KEY})
        assert no_cookie.status_code == 403
    async with server.services.db.session() as session:
        assert (await session.exec(select(WorkspaceCredential))).all() == []


def _fill_and_submit(url: str, key: str) -> str:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(BROWSER[1]), options=options)
    try:
        driver.get(url)
        field = driver.find_element(By.ID, "outgoing_key")
        assert driver.find_element(By.CSS_SELECTOR, 'label[for="outgoing_key"]').text
        field.send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 15).until(expected_conditions.staleness_of(field))
        return str(driver.find_element(By.TAG_NAME, "main").text)
    finally:
        driver.quit()


BROWSER = ("/usr/bin/chromium", "/usr/bin/chromedriver")


@pytest.mark.skipif(
    not all(Path(p).exists() for p in BROWSER) and not os.environ.get("CI"),
    reason="no Chromium here; `sudo apt-get install chromium chromium-driver` enables it "
    "(under CI, where .ci/run installs it, it always runs)",
)
async def test_an_admin_binds_in_a_real_browser(server: Server) -> None:
    token = await server.token()
    shown = await asyncio.to_thread(
        _fill_and_submit, f"{server.url}/bind?token={token}", DEFAULT_NEGOTIATED_KEY
    )
    assert "Workspace T1 is connected" in shown
    assert DEFAULT_NEGOTIATED_KEY not in shown
    async with server.services.db.session() as session:
        (credential,) = (await session.exec(select(WorkspaceCredential))).all()
    assert credential.kind == "negotiated"


async def test_a_malformed_onegent_key_is_refused_at_bind_time(server: Server) -> None:
    token = await server.token()
    refused = await server.services.workspaces.bind(
        token=token, outgoing_key=DEFAULT_NEGOTIATED_KEY, other_keys={"onegent": "ogk_prod_123"}
    )
    assert (refused.status, refused.code) == (400, "onegent_key_malformed")
    assert "ogk_live_" in refused.message
    async with server.services.db.session() as session:
        assert (await session.exec(select(WorkspaceCredential))).all() == []
    good = "ogk_test_" + "a" * 20
    bound = await server.services.workspaces.bind(
        token=token, outgoing_key=DEFAULT_NEGOTIATED_KEY, other_keys={"onegent": good}
    )
    assert bound.ok
    async with server.services.db.session() as session:
        partners = {c.partner for c in (await session.exec(select(WorkspaceCredential))).all()}
    assert partners == {"outgoing", "onegent"}
