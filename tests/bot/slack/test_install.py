"""Installing in many workspaces: OAuth v2 against the fake Slack Web API, installations
sealed in our database, the welcome DM and its App Home fallback, uninstalls, and token
rotation (one refresh however many replicas and requests race for it)."""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from sqlmodel import SQLModel, select

from bot.services import field_cipher
from bot.slack.app import BOT_SCOPES
from bot.slack.clients import web_client
from bot.slack.installations import SlackInstallationStore
from bot.slack.oauth import STATE_COOKIE, SignedStateStore
from bot.slack.tokens import InstalledTokens
from conversations.replies import Reply
from conversations.types import ConversationAddress
from conversations.workspaces import BIND_API_PATH
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig, serve_in_background
from storage import Database, FieldCipher, generate_key, repositories, token_hash
from storage.models import BindToken, Installation, Workspace, WorkspaceCredential
from tests.bot.slack.fake_slack import CLIENT_ID, CLIENT_SECRET, SCOPES, Call, FakeSlackAPI, Grant
from tests.bot.slack.harness import (
    SECRET,
    SlackRig,
    dm,
    oauth_settings,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import ScriptedLLM

TEAM_A, TEAM_B = "T0A", "T0B"
ADMIN = "U0ADMIN"
SECOND_KEY = "og_api_sandbox_negotiated_second"
Row = TypeVar("Row", bound=SQLModel)
_TOKEN = re.compile(r"/bind\?token=([A-Za-z0-9_-]+)\|")


def bind_token_of(post: Call) -> str:
    found = _TOKEN.search(post.block_text)
    assert found is not None, post.block_text
    return found.group(1)


def welcomes(rig: SlackRig, channel: str | None = None) -> list[Call]:
    return [
        p
        for p in rig.slack.posts
        if "Welcome to Concierge" in p.block_text
        and (channel is None or p.args["channel"] == channel)
    ]


async def bind(rig: SlackRig, token: str, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return await rig.http.post(
        f"{rig.url}{BIND_API_PATH}", json={"bind_token": token}, headers=headers
    )


async def install_and_bind(rig: SlackRig, team: str, key: str) -> str:
    """Install in `team` (installer ADMIN), bind `key` with the welcome DM's token; the
    workspace's bot token."""
    assert (await rig.install(Grant(team, ADMIN, team_name=f"Team {team}"))).status_code == 200
    await rig.slack.wait_for(lambda: any(p.token and team in p.token for p in welcomes(rig)))
    welcome = next(p for p in welcomes(rig) if p.token and team in p.token)
    assert (await bind(rig, bind_token_of(welcome), key)).status_code == 200
    assert welcome.token is not None
    return welcome.token


async def test_an_install_is_stored_sealed_and_the_installer_is_welcomed(
    database_url: str,
) -> None:
    model = ScriptedLLM(["Hello from Team A."])
    async with running_slack(model, database_url=database_url, **oauth_settings()) as rig:
        started = await rig.http.get(f"{rig.url}/slack/install")
        assert started.status_code == 302
        consent = urlsplit(started.headers["location"])
        assert (consent.netloc, consent.path) == ("slack.com", "/oauth/v2/authorize")
        query = parse_qs(consent.query)
        assert query["client_id"] == [CLIENT_ID]
        assert query["scope"][0].split(",") == list(BOT_SCOPES)  # users:read.email is opt-in
        assert query["redirect_uri"] == [f"{rig.url}/slack/oauth_redirect"]
        cookie = started.headers["set-cookie"]
        assert cookie.startswith(f"{STATE_COOKIE}=") and "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower() and "Path=/slack/" in cookie

        code = rig.slack.grant(Grant(TEAM_A, ADMIN, team_name="Team A"))
        done = await rig.finish_install(code, query["state"][0])
        assert done.status_code == 200 and "Concierge is installed in Team A" in done.text
        assert done.headers["cache-control"] == "no-store"
        assert STATE_COOKIE not in rig.http.cookies  # cleared once used
        await rig.slack.wait_for(lambda: bool(rig.slack.posts))
        await rig.settle()

        (exchange,) = rig.slack.of("oauth.v2.access")  # at SLACK_API_URL, with our credentials
        assert exchange.args["code"] == code
        assert exchange.args["redirect_uri"] == f"{rig.url}/slack/oauth_redirect"
        (bot_token,) = rig.slack.issued
        async with rig.services.db.session() as session:
            row = (await session.exec(select(Installation))).one()
            workspace = await session.get(Workspace, row.workspace_id)
            (issued,) = (await session.exec(select(BindToken))).all()
        assert workspace is not None and (workspace.external_id, workspace.name) == (
            TEAM_A,
            "Team A",
        )
        assert bot_token.encode() not in row.bot_token_ciphertext
        cipher = field_cipher(rig.services.settings)
        assert repositories.bot_token(row, cipher=cipher) == bot_token
        assert (row.installer_user_id, row.bot_user_id, row.scopes) == (ADMIN, "U0ABOT", SCOPES)
        assert row.welcomed_at is not None and row.refresh_token_ciphertext is None

        # The welcome DM: what the bot does, the bind link and the same call with curl.
        (opened,) = rig.slack.of("conversations.open")
        assert opened.args["users"] == ADMIN and opened.token == bot_token
        (welcome,) = rig.slack.posts
        assert welcome.args["channel"] == "D0ADMIN" and welcome.token == bot_token
        assert welcome.args["unfurl_links"] is False
        shown = welcome.block_text
        token = bind_token_of(welcome)
        assert f"<{rig.url}/bind?token={token}|open the connection page>" in shown
        assert (
            f'curl -X POST "{rig.url}{BIND_API_PATH}" -H "Authorization: Bearer og_api_…" '
            f"-H 'Content-Type: application/json' -d '{{\"bind_token\": \"{token}\"}}'"
        ) in shown
        assert "Find things to do" in shown and "/concierge settings" in shown
        sent = json.dumps(welcome.args)
        for secret in (bot_token, CLIENT_SECRET, SECRET, DEFAULT_NEGOTIATED_KEY, "xoxb-", "xoxp-"):
            assert secret not in sent
        assert issued.token_hash == token_hash(token) and token not in json.dumps(issued.notify)
        assert issued.notify == {
            "platform": "slack",
            "workspace_id": TEAM_A,
            "chat_id": "D0ADMIN",
            "thread_id": "",
        }

        # The token binds a key through the API door; the welcome DM is told.
        bound = await bind(rig, token, DEFAULT_NEGOTIATED_KEY)
        assert bound.json() == {"ok": True, "team_id": TEAM_A, "bound": True}
        rig.services.outbox.wake()
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 2)
        told = rig.slack.posts[1]
        assert told.args["channel"] == "D0ADMIN" and told.token == bot_token
        assert "now connected to Outgoing with a partner key" in told.block_text

        # People in that workspace are answered with its own bot token.
        await rig.event(dm("hi there", user=ADMIN, channel="D0ADMIN", team=TEAM_A), team=TEAM_A)
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 3)
        await rig.settle()
    assert rig.slack.posts[2].token == bot_token
    assert "Hello from Team A." in rig.slack.posts[2].block_text


async def test_bad_missing_replayed_and_refused_installs_get_a_page_and_store_nothing(
    tmp_path: Path,
) -> None:
    async with running_slack(
        ScriptedLLM([]), database_url=sqlite_url(tmp_path), **oauth_settings()
    ) as rig:
        redirect = f"{rig.url}/slack/oauth_redirect"
        key = (rig.services.settings.secret_key.get_secret_value() or "").encode()  # type: ignore[union-attr]

        async def attempt(state: str | None, code: str | None = "x", **more: str) -> httpx.Response:
            params = {
                k: v for k, v in {"state": state, "code": code, **more}.items() if v is not None
            }
            async with httpx.AsyncClient(timeout=10) as browser:
                if state is not None:
                    browser.cookies.set(STATE_COOKIE, state, path="/slack/")
                return await browser.get(redirect, params=params)

        missing = await attempt(None)
        forged = await attempt("abc.123.forged")
        expired_state = await SignedStateStore(key=key, db=rig.services.db, ttl_s=-1).async_issue()
        expired = await attempt(expired_state)
        async with httpx.AsyncClient(timeout=10) as other_browser:
            stolen = await rig.start_install(other_browser)
        no_cookie = await rig.http.get(redirect, params={"state": stolen, "code": "x"})

        state = await rig.start_install()
        cancelled = await rig.http.get(redirect, params={"error": "access_denied", "state": state})
        bad_code = await rig.finish_install("code-unknown", await rig.start_install())
        org = await rig.finish_install(
            rig.slack.grant(Grant("T0ORG", ADMIN, enterprise=True)), await rig.start_install()
        )
        rig.slack.break_down("oauth.v2.access", times=1)
        unreachable = await rig.finish_install(
            rig.slack.grant(Grant(TEAM_A, ADMIN)), await rig.start_install()
        )
        # A finished install replayed (same state, same cookie) is refused.
        state = await rig.start_install()
        first = await rig.finish_install(rig.slack.grant(Grant(TEAM_A, ADMIN)), state)
        replayed = await attempt(state, rig.slack.grant(Grant(TEAM_B, ADMIN)))
        await rig.settle()
        async with rig.services.db.session() as session:
            installed = (await session.exec(select(Workspace.external_id))).all()
            rows = (await session.exec(select(Installation))).all()

    pages = {
        "missing": missing,
        "forged": forged,
        "expired": expired,
        "no_cookie": no_cookie,
        "bad_code": bad_code,
        "org": org,
        "replayed": replayed,
    }
    assert {name: r.status_code for name, r in pages.items()} == dict.fromkeys(pages, 400)
    said = {name: html.unescape(r.text) for name, r in {**pages, "cancelled": cancelled}.items()}
    assert "can't be finished here" in said["missing"] and "can't be finished" in said["no_cookie"]
    for name in ("forged", "expired", "replayed"):
        assert "expired or was already used" in said[name]
    assert "did not accept this installation" in said["bad_code"]
    assert "isn't supported" in said["org"]
    assert cancelled.status_code == 200 and "Nothing was installed" in said["cancelled"]
    assert unreachable.status_code == 502 and "can't be reached" in html.unescape(unreachable.text)
    assert all('href="/slack/install"' in r.text for r in pages.values())
    assert first.status_code == 200 and len(rows) == 1 and list(installed) == [TEAM_A]
    # Refused states never reached Slack: only the unknown, the org-wide, the one Slack
    # failed on, and the real one were exchanged.
    exchanged = [c.args["code"] for c in rig.slack.of("oauth.v2.access")]
    assert "code-unknown" in exchanged and len(exchanged) == 4


async def test_a_welcome_that_failed_is_sent_when_the_installer_opens_the_app_home(
    tmp_path: Path,
) -> None:
    async with running_slack(
        ScriptedLLM([]), database_url=sqlite_url(tmp_path), **oauth_settings()
    ) as rig:
        rig.slack.fail_once("chat.postMessage", "restricted_action")
        assert (await rig.install(Grant(TEAM_A, ADMIN))).status_code == 200
        await rig.slack.wait_for(lambda: bool(rig.slack.posts))
        await rig.settle()
        assert len(welcomes(rig)) == 1  # tried, refused by Slack

        someone = {"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home"}
        await rig.event(someone, team=TEAM_A)
        await rig.slack.wait_for(lambda: bool(rig.slack.of("views.publish")))
        await rig.settle()
        assert len(welcomes(rig)) == 1  # only the installer is welcomed

        installer = {**someone, "user": ADMIN, "channel": "D0ADMIN"}
        await asyncio.gather(rig.event(installer, team=TEAM_A), rig.event(installer, team=TEAM_A))
        await rig.slack.wait_for(lambda: len(welcomes(rig)) == 2)
        await rig.settle()
        await rig.event(installer, team=TEAM_A)
        await rig.slack.wait_for(lambda: len(rig.slack.of("views.publish")) == 4)
        await rig.settle()
    failed, sent = welcomes(rig)
    assert sent.args["channel"] == "D0ADMIN" and sent.token == failed.token
    assert bind_token_of(sent) != bind_token_of(failed)
    assert not rig.slack.of("conversations.open")[1:]  # the App Home names the DM


@pytest.mark.parametrize(
    "order", [("tokens_revoked", "app_uninstalled"), ("app_uninstalled", "tokens_revoked")]
)
async def test_uninstall_purges_the_workspace_in_any_order(
    tmp_path: Path, order: tuple[str, str]
) -> None:
    sandbox = SandboxConfig.fast(negotiated_keys=frozenset({DEFAULT_NEGOTIATED_KEY, SECOND_KEY}))
    model = ScriptedLLM(["Still here, B."])
    async with running_slack(
        model, database_url=sqlite_url(tmp_path), sandbox=sandbox, **oauth_settings()
    ) as rig:
        await install_and_bind(rig, TEAM_A, DEFAULT_NEGOTIATED_KEY)
        b_token = await install_and_bind(rig, TEAM_B, SECOND_KEY)
        await rig.services.workspaces.issue_bind_token(
            platform="slack", workspace_external_id=TEAM_A, issued_by=ADMIN
        )
        user_only = {"type": "tokens_revoked", "tokens": {"oauth": [ADMIN]}}
        assert (await rig.event(user_only, team=TEAM_A)).status_code == 200
        assert len(await _rows(rig, Installation)) == 2  # a user token is not the bot's

        events: dict[str, dict[str, Any]] = {
            "tokens_revoked": {"type": "tokens_revoked", "tokens": {"bot": ["U0ABOT"]}},
            "app_uninstalled": {"type": "app_uninstalled"},
        }
        answers = [await rig.event(events[name], team=TEAM_A) for name in (*order, *order)]
        assert [a.status_code for a in answers] == [200] * 4

        installations = await _rows(rig, Installation)
        credentials = await _rows(rig, WorkspaceCredential)
        tokens = await _rows(rig, BindToken)
        b_id = await _workspace_id(rig, TEAM_B)
        assert [i.workspace_id for i in installations] == [b_id]
        assert [c.workspace_id for c in credentials] == [b_id]
        assert {t.workspace_id for t in tokens} == {b_id}

        gone = await rig.event(dm("anyone?", team=TEAM_A), team=TEAM_A)
        await rig.event(dm("and here?", team=TEAM_B), team=TEAM_B)
        await rig.slack.wait_for(lambda: any("Still here" in p.block_text for p in rig.slack.posts))
        await rig.settle()
    assert gone.status_code == 200 and len(model.requests) == 1
    (answer,) = [p for p in rig.slack.posts if "Still here, B." in p.block_text]
    assert answer.token == b_token


async def _rows(rig: SlackRig, model: type[Row]) -> list[Row]:
    async with rig.services.db.session(read_only=True) as session:
        return list((await session.exec(select(model))).all())


async def _workspace_id(rig: SlackRig, team: str) -> str:
    async with rig.services.db.session(read_only=True) as session:
        found = await repositories.get_workspace(session, platform="slack", external_id=team)
    assert found is not None
    return found.id


# ---- token rotation ------------------------------------------------------------------------


async def test_two_replicas_refresh_an_expired_token_once(database: Database) -> None:
    slack = FakeSlackAPI(refresh_delay_s=0.3)
    cipher = FieldCipher(generate_key())
    async with serve_in_background(slack.app) as url:
        api = f"{url}/api/"
        code = slack.grant(Grant(TEAM_A, ADMIN, rotation=True))
        answer = await web_client(api).oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
        )
        async with database.session() as session:
            workspace = await repositories.get_or_create_workspace(
                session, platform="slack", external_id=TEAM_A
            )
            await repositories.save_installation(
                session,
                workspace_id=workspace.id,
                bot_token=answer["access_token"],
                refresh_token=answer["refresh_token"],
                expires_at=datetime.now(UTC) - timedelta(minutes=1),  # already expired
                cipher=cipher,
            )

        def replica() -> InstalledTokens:
            rotator = AsyncTokenRotator(
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client=web_client(api)
            )
            return InstalledTokens(db=database, cipher=cipher, rotator=rotator)

        replicas = [replica(), replica()]
        tokens = await asyncio.gather(
            *(r.bot_token(team_id=TEAM_A, enterprise_id=None) for r in replicas for _ in range(3))
        )
        again = await replicas[1].bot_token(team_id=TEAM_A, enterprise_id=None)

    (refresh,) = slack.refreshes
    assert refresh.args["refresh_token"] == answer["refresh_token"]
    newest = list(slack.issued)[-1]
    assert set(tokens) == {newest} and again == newest and newest.startswith("xoxe.xoxb-")
    async with database.session(read_only=True) as session:
        row = (await session.exec(select(Installation))).one()
    assert repositories.bot_token(row, cipher=cipher) == newest
    assert repositories.refresh_token(row, cipher=cipher) != answer["refresh_token"]
    assert row.rotation_lease_until is None and row.expires_at is not None
    assert row.expires_at > datetime.now(UTC) + timedelta(hours=11)


async def test_inbound_and_proactive_sends_rotate_a_token_about_to_expire(
    tmp_path: Path,
) -> None:
    model = ScriptedLLM(["Fresh token, fresh answer."])
    async with running_slack(model, database_url=sqlite_url(tmp_path), **oauth_settings()) as rig:
        rig.slack.refresh_delay_s = 0.2
        # Slack says the installed token lives a minute: due for a refresh at once.
        grant = Grant(TEAM_A, ADMIN, rotation=True, lifetime_s=60)
        assert (await rig.install(grant)).status_code == 200
        later = rig.services.replier_for(ConversationAddress("slack", TEAM_A, "C0PLANS", "1.2"))
        assert later is not None
        await asyncio.gather(
            later.send(Reply(text="Your booking is confirmed.")),
            rig.event(dm("hello there", team=TEAM_A), team=TEAM_A),
        )
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 3)
        await rig.settle()
    installed, rotated = list(rig.slack.issued)
    assert len(rig.slack.refreshes) == 1
    assert {p.token for p in rig.slack.posts} == {rotated}  # welcome, outlet and reply
    assert not any(c.token == installed for c in rig.slack.calls if c.method != "auth.test")


async def test_bolt_uses_our_stores_even_with_slack_client_id_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack-bolt builds its own OAuth flow (file stores) from `SLACK_CLIENT_ID` and
    `SLACK_CLIENT_SECRET` in the environment unless it is handed one."""
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("HOME", str(tmp_path))
    async with running_slack(
        ScriptedLLM([]), database_url=sqlite_url(tmp_path), **oauth_settings()
    ) as rig:
        assert (await rig.install(Grant(TEAM_A, ADMIN))).status_code == 200
        await rig.settle()
        bolt = rig.front_end.bolt
    assert bolt is not None and bolt.oauth_flow is not None
    assert isinstance(bolt.installation_store, SlackInstallationStore)
    assert isinstance(bolt.oauth_flow.settings.installation_store, SlackInstallationStore)
    assert isinstance(bolt.oauth_flow.settings.state_store, SignedStateStore)
    assert await asyncio.to_thread(lambda: list(tmp_path.glob(".bolt-app-*"))) == []
