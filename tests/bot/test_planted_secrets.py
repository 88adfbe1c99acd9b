"""A whole conversation with every logger at DEBUG, then a search of every log line and every
stored value for a planted name, e-mail, message text, partner key and secret key.

Real traffic: a workspace binds a planted Outgoing key through the bind API; a person whose
Slack profile carries a planted name and e-mail DMs the bot through signed Events API
requests; the real anthropic SDK talks to the fake Messages API and asks for a search, which
the Outgoing sandbox runs with the bound key; the results are posted through the outbox.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from bot.logs import configure_logging
from integrations.anthropic_llm import AnthropicLLM
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig
from integrations.sandbox.state import key_fingerprint
from storage import Database
from tests.bot.slack.fake_slack import SCOPES, TEAM, FakeSlackAPI
from tests.bot.slack.harness import BOT_TOKEN, SECRET, SECRET_KEY, dm, running_slack
from tests.fakes.messages_api import (
    FakeMessagesAPI,
    FakeResponse,
    RecordedRequest,
    ToolUse,
    text_reply,
    tool_reply,
)
from tests.storage.dump import found_in, stored_values

NAME = "Zephyrine Quillfeather"
EMAIL = "zephyrine.q@example.org"
WORDS = "oysters by the Gowanus canal for my aunt Philippa"
SAID = f"Hi, I am {NAME} ({EMAIL}). Find {WORDS}, tonight please."
PARTNER_KEY = "og_api_planted_7f3c9b2e1d4a"
BIND = "/partner/v1/slack/workspaces/bind"
PLANTED = {
    "name": "Zephyrine",
    "surname": "Quillfeather",
    "e-mail": EMAIL,
    "e-mail's user part": "zephyrine.q",
    "message text": "Gowanus",
    "message words": "Philippa",
    "partner key": PARTNER_KEY,
    "partner key's tail": "7f3c9b2e1d4a",
    "secret key": SECRET_KEY,
    "bot token": BOT_TOKEN,
}


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Logging as `concierge --debug serve` sets it up, written into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    buffer = io.StringIO()
    configure_logging(logging.DEBUG, [SECRET_KEY, BOT_TOKEN, SECRET])
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _model(request: RecordedRequest) -> FakeResponse:
    """Searches for what the person asked, then says it is on it."""
    if request.tool_results:
        return text_reply("I am looking now; the results will follow here.")
    return tool_reply(ToolUse("search_activities", {"prompt": WORDS, "location": "Brooklyn"}))


def _search_answered(slack: FakeSlackAPI) -> bool:
    """The search's status line became its outcome (cards, or no matches)."""
    outcomes = ("Details", "No matches")
    return any(any(o in c.block_text for o in outcomes) for c in slack.of("chat.update"))


async def test_no_planted_value_reaches_a_log_line_or_a_stored_value(
    debug_log: io.StringIO, database_url: str
) -> None:
    slack = FakeSlackAPI(scopes=f"{SCOPES},users:read.email")
    slack.add_user("U0ALICE", NAME, email=EMAIL)
    api = FakeMessagesAPI(responder=_model)
    sandbox = SandboxConfig.fast(negotiated_keys=frozenset({DEFAULT_NEGOTIATED_KEY, PARTNER_KEY}))
    async with api.serve() as model_url:
        model = AnthropicLLM.from_settings("sk-ant-planted-key", model_url, "claude-sonnet-5")
        try:
            async with running_slack(
                model, database_url=database_url, slack=slack, sandbox=sandbox
            ) as rig:
                token = await rig.services.workspaces.issue_bind_token(
                    platform="slack", workspace_external_id=TEAM, issued_by="U0ADMIN"
                )
                async with httpx.AsyncClient() as http:
                    bound = await http.post(
                        f"{rig.url}{BIND}",
                        json={"bind_token": token},
                        headers={"Authorization": f"Bearer {PARTNER_KEY}"},
                    )
                assert bound.status_code == 200 and bound.json()["bound"] is True

                assert (await rig.event(dm(SAID))).status_code == 200
                await rig.slack.wait_for(lambda: _search_answered(rig.slack), 30)
                await rig.settle()
        finally:
            await model.client.close()
    assert api.errors == []
    # The traffic was real: the search ran with the bound key, for the person's words.
    searches = [e for e in rig.outgoing.state.journal if "search" in e.path]
    assert searches and {e.key_fingerprint for e in searches} == {key_fingerprint(PARTNER_KEY)}
    assert any(WORDS in str(e.query) for e in searches)

    db = await Database.create(database_url)
    try:
        stored = await stored_values(db)
    finally:
        await db.dispose()
    assert stored["message"] and stored["action"] and stored["person"]
    logged = debug_log.getvalue()
    assert "DEBUG" in logged  # debug logging was on
    leaks = {
        what: (found_in(stored, value), value.lower() in logged.lower())
        for what, value in PLANTED.items()
    }
    assert {what: leak for what, leak in leaks.items() if leak != ([], False)} == {}


@pytest.mark.parametrize(
    "library",
    [
        "sqlalchemy.engine.Engine",
        "aiosqlite",
        "asyncpg",
        "httpx",
        "httpcore.http11",
        "anthropic._base_client",
        "slack_sdk.web.async_base_client",
        "slack_bolt.App",
        "bot.slack.bolt",
        "telegram._bot",
        "telegram.ext.Application",
        "websockets.client",
    ],
)
def test_libraries_that_print_bodies_or_parameters_stay_quiet_at_debug(
    debug_log: io.StringIO, library: str
) -> None:
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
    assert not logging.getLogger(library).isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
