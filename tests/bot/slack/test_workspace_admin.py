"""`/concierge settings` for admins and everyone else, the spend limit, `/concierge forget me`,
and people provisioned with their Slack profile (contact details only when granted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlmodel import select

from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolResultPart
from integrations.sandbox import DEFAULT_SELF_SERVE_KEY, RunningSandbox
from storage.models import BindToken, Message, Workspace
from tests.bot.slack.fake_slack import SCOPES, FakeSlackAPI, Grant
from tests.bot.slack.harness import (
    SlackRig,
    dm,
    oauth_settings,
    running_slack,
    sqlite_url,
)
from tests.bot.slack.test_install import ADMIN, TEAM_A, bind, welcomes
from tests.factories import book_call
from tests.fakes.llm import FunctionLLM, ScriptedLLM, call, calls, text, tool_results

BOB = "U0BOB"


def _booker(sandbox: list[RunningSandbox]) -> FunctionLLM:
    """Books the late set on "book", lists orders on "orders", and says any tool error."""

    def respond(request: LLMRequest) -> LLMResponse:
        last = request.messages[-1]
        if any(isinstance(p, ToolResultPart) for p in last.parts):
            errors = [str(r["error"]) for r in tool_results(request) if "error" in r]
            return text(errors[0] if errors else "Done.")
        said = " ".join(p.text for p in last.parts if isinstance(p, TextPart))
        if "book" in said:
            return calls(book_call(sandbox[0].state))
        if "orders" in said:
            return calls(call("list_orders"))
        return text("Hello!")

    return FunctionLLM(respond)


async def _settings(rig: SlackRig, words: str, user: str) -> str:
    answer = await rig.command(f"settings {words}".strip(), user=user, team=TEAM_A)
    assert answer.status_code == 200 and answer.json()["response_type"] == "ephemeral"
    return str(answer.json()["text"])


async def _tokens(rig: SlackRig) -> list[BindToken]:
    async with rig.services.db.session(read_only=True) as session:
        return list((await session.exec(select(BindToken))).all())


async def _cap(rig: SlackRig) -> int | None:
    async with rig.services.db.session(read_only=True) as session:
        return (await session.exec(select(Workspace.spend_cap_cents))).one()


async def test_settings_show_admins_the_binding_and_let_them_set_the_spend_limit(
    tmp_path: Path,
) -> None:
    sandbox: list[RunningSandbox] = []
    slack = FakeSlackAPI()
    slack.add_user(ADMIN, "Ada", admin=True)
    slack.add_user(BOB, "Bob")
    async with running_slack(
        _booker(sandbox), database_url=sqlite_url(tmp_path), slack=slack, **oauth_settings()
    ) as rig:
        sandbox.append(rig.outgoing)
        assert (await rig.install(Grant(TEAM_A, ADMIN))).status_code == 200
        await rig.slack.wait_for(lambda: bool(welcomes(rig)))
        await rig.settle()
        issued = len(await _tokens(rig))

        # Everyone sees the basics; only admins see (and change) the rest.
        for_bob = await _settings(rig, "", BOB)
        assert "Activities (Outgoing): connected" in for_bob
        assert "Only a workspace admin can connect this workspace to Outgoing" in for_bob
        assert "bind?token=" not in for_bob and len(await _tokens(rig)) == issued
        refused = await _settings(rig, "limit 100", BOB)
        assert refused.startswith("Only a workspace admin can change the spend limit.")
        assert await _cap(rig) is None

        for_ada = await _settings(rig, "", ADMIN)
        assert "This workspace: not connected to a key of its own" in for_ada
        assert "Spend limit: 500 per booking (the default)" in for_ada
        tokens = await _tokens(rig)
        assert len(tokens) == issued + 1
        assert tokens[-1].notify is not None and tokens[-1].notify["chat_id"] == "D0ADMIN"
        link = for_ada[for_ada.index("<http") + 1 : for_ada.index("|open the connection page>")]
        token = parse_qs(urlsplit(link).query)["token"][0]
        assert f'"bind_token": "{token}"' in for_ada and "curl -X POST" in for_ada

        assert "now cost up to 300," in await _settings(rig, "limit 300", ADMIN)
        assert await _cap(rig) == 30_000
        assert "now cost up to 12.50," in await _settings(rig, "limit $12.5", ADMIN)
        assert await _cap(rig) == 1_250
        assert "Give the limit as an amount" in await _settings(rig, "limit lots", ADMIN)
        assert "settings limit <amount>" in await _settings(rig, "frobnicate", ADMIN)
        assert await _cap(rig) == 1_250

        # The limit holds: a $45 booking is refused before anyone is asked to confirm.
        asked = dm("book the late set", user=ADMIN, channel="D0ADMIN", team=TEAM_A)
        await rig.event(asked, team=TEAM_A)
        await rig.slack.wait_for(lambda: any("limit" in p.block_text for p in rig.slack.posts))
        await rig.settle()
        refusal = next(p for p in rig.slack.posts if "limit" in p.block_text)
        assert "above this workspace's limit of $12.50 per booking" in refusal.block_text
        assert not rig.outgoing.state.requests_to("/partner/v1/bookings", "POST")

        assert "again cost up to 500" in await _settings(rig, "limit default", ADMIN)
        assert await _cap(rig) is None

        # Bound with the settings' token: the kind shows, the key never does.
        assert (await bind(rig, token, DEFAULT_SELF_SERVE_KEY)).status_code == 200
        bound = await _settings(rig, "", ADMIN)
    assert "own personal (self-serve) key: orders belong to the key's owner" in bound
    assert "Connect it to another key" in bound
    assert DEFAULT_SELF_SERVE_KEY not in bound and DEFAULT_SELF_SERVE_KEY not in for_ada


async def test_forget_me_by_slash_command_answers_privately(tmp_path: Path) -> None:
    model = ScriptedLLM(["Noted, Alice."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(dm("remember that I like jazz"))
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
        forgot = await rig.command("forget me")
        again = await rig.command("Forget me!")
        async with rig.services.db.session(read_only=True) as session:
            left = (await session.exec(select(Message))).all()
    assert forgot.json()["response_type"] == "ephemeral"
    assert forgot.json()["text"].startswith("Done. I deleted your profile and 2 stored messages")
    assert again.json()["text"] == "I had nothing stored about you here."
    assert left == [] and len(rig.slack.posts) == 1 and not rig.slack.of("conversations.open")


async def _provisioned(slack: FakeSlackAPI, where: Path) -> dict[str, Any]:
    """Alice asks for her orders twice; what Outgoing was told about her."""
    sandbox: list[RunningSandbox] = []
    database = f"sqlite:///{where}.db"
    async with running_slack(_booker(sandbox), database_url=database, slack=slack) as rig:
        sandbox.append(rig.outgoing)
        for asked in ("my orders", "orders again"):
            await rig.event(dm(asked))
            await rig.slack.wait_for(lambda: any("Done" in p.block_text for p in rig.slack.posts))
            await rig.settle()
        (user,) = rig.outgoing.state.users.values()
    assert len(slack.of("users.info")) == 1  # remembered between turns
    return user.profile.model_dump(exclude_none=True, exclude_defaults=True)


async def test_people_are_provisioned_with_their_slack_name_and_contact_only_if_granted(
    tmp_path: Path,
) -> None:
    slack = FakeSlackAPI()
    slack.add_user("U0ALICE", "Alice", email="alice@example.com", phone="+1 555 0100")
    plain = await _provisioned(slack, tmp_path / "plain")
    assert plain["display_name"] == "Alice"
    assert "email" not in plain and "phone" not in plain

    granted = FakeSlackAPI(scopes=f"{SCOPES},users:read.email")
    granted.add_user("U0ALICE", "Alice", email="alice@example.com", phone="+1 555 0100")
    profile = await _provisioned(granted, tmp_path / "granted")
    assert (profile["display_name"], profile["email"], profile["phone"]) == (
        "Alice",
        "alice@example.com",
        "+1 555 0100",
    )


async def test_installs_ask_for_email_only_when_configured(tmp_path: Path) -> None:
    settings = {**oauth_settings(), "CONCIERGE_SLACK_CONTACT_DETAILS": "true"}
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path), **settings) as rig:
        state = await rig.http.get(f"{rig.url}/slack/install")
    scopes = parse_qs(urlsplit(state.headers["location"]).query)["scope"][0].split(",")
    assert "users:read" in scopes and "users:read.email" in scopes
