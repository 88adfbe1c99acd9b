"""A correctly signed body Slack would never send gets a plain 400, never a 5xx (which Slack
retries) or a traceback, and reaches nothing: no bolt listener, no model, no Slack call, no
row. A badly signed one stays 401. Driven through `serve`'s real `POST /slack/events`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.bot.mutations import mutations
from tests.bot.rows import row_counts
from tests.bot.slack.harness import (
    block_action,
    dm,
    event_callback,
    new_ts,
    running_slack,
    sign,
    slash_command,
    sqlite_url,
)
from tests.fakes.llm import FunctionLLM, ScriptedLLM, text

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _interaction(payload: Any) -> bytes:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": raw}).encode()


def _command(**changes: str | None) -> bytes:
    fields = {**slash_command("help"), **changes}
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def _event(**changes: Any) -> bytes:
    body = event_callback(dm("hello there"))
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return _json(body)


def _click(**changes: Any) -> bytes:
    payload = block_action("x", channel="D0ALICE", message_ts=new_ts())
    payload.update(changes)
    return _interaction(payload)


MALFORMED: dict[str, tuple[bytes, str]] = {
    # the Events API door
    "not JSON": (b"hello, bolt", JSON),
    "JSON cut short": (b'{"type": "event_callback", ', JSON),
    "JSON array": (b'[{"type": "event_callback"}]', JSON),
    "JSON string": (b'"event_callback"', JSON),
    "JSON null": (b"null", JSON),
    "nested 100k deep": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "object without type": (_json({"event": dm("hello there"), "team_id": "T0TEAM"}), JSON),
    "type not a string": (_event(type=["event_callback"]), JSON),
    "event_callback without event": (_event(event=None), JSON),
    "event a string": (_event(event="message"), JSON),
    "event a list": (_event(event=[dm("hello there")]), JSON),
    "event without type": (_event(event={"text": "hello", "user": "U0ALICE"}), JSON),
    "event without team_id": (_event(team_id=None), JSON),
    "event without event_id": (_event(event_id=None), JSON),
    "team_id a list": (_event(team_id=["T0TEAM"]), JSON),
    "event user a number": (_event(event={**dm("hello there"), "user": 5}), JSON),
    "event subtype a list": (_event(event={**dm("hello there"), "subtype": ["x"]}), JSON),
    "authorizations not objects": (_event(authorizations=["T0TEAM"]), JSON),
    "authorization team a list": (_event(authorizations=[{"team_id": ["T0TEAM"]}]), JSON),
    "url_verification without challenge": (_json({"type": "url_verification"}), JSON),
    # interactivity (form with `payload=`)
    "payload not JSON": (_interaction("{not json"), FORM),
    "payload a JSON array": (_interaction([{"type": "block_actions"}]), FORM),
    "payload a JSON string": (_interaction('"block_actions"'), FORM),
    "payload without type": (_interaction({"actions": []}), FORM),
    "click actions a string": (_click(actions="btn-0"), FORM),
    "click action without action_id": (_click(actions=[{"type": "button", "value": "x"}]), FORM),
    "click user a number": (_click(user=5), FORM),
    "click without user": (_click(user=None), FORM),
    "click team a list": (_click(team=["T0TEAM"]), FORM),
    "click channel a number": (_click(channel=7), FORM),
    "click message a string": (_click(message="hi"), FORM),
    # slash commands (plain form)
    "command without user_id": (_command(user_id=None), FORM),
    "command without team_id": (_command(team_id=None), FORM),
    "command without channel_id": (_command(channel_id=None), FORM),
    "command without trigger_id": (_command(trigger_id=None), FORM),
    "command with an empty user_id": (_command(user_id=""), FORM),
    "form that is no command": (urlencode({"text": "help", "team_id": "T0TEAM"}).encode(), FORM),
    # nothing at all
    "empty JSON body": (b"", JSON),
    "empty form body": (b"", FORM),
    "empty body, no content type": (b"", ""),
    "only whitespace": (b"  \n", JSON),
}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_malformed_signed_bodies_get_a_plain_400_and_reach_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = ScriptedLLM(["Signed, well formed and welcome."])
    caplog.set_level(logging.INFO)
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.settle()
        before = await row_counts(rig.services.db)
        answers = {}
        for name, (body, content_type) in MALFORMED.items():
            response = await rig.post(body, content_type)
            answers[name] = (
                response.status_code,
                response.text,
                response.headers.get("content-type", ""),
            )
        # Signed badly, the same bodies stay 401: the signature is checked first.
        badly_signed = {
            name: (await rig.post(body, kind, sign(body, secret="not-the-secret"))).status_code
            for name, (body, kind) in list(MALFORMED.items())[:5]
        }
        await rig.settle()
        after = await row_counts(rig.services.db)
        calls_after_refusals = list(rig.slack.calls)
        # The door still works: a well-formed DM gets its one answer.
        assert (await rig.event(dm("hello there"))).status_code == 200
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    wrong = {n: a for n, a in answers.items() if a[:2] != (400, "malformed request")}
    assert wrong == {}
    assert all(a[2].startswith("text/plain") for a in answers.values())
    assert badly_signed == dict.fromkeys(badly_signed, 401)
    assert calls_after_refusals == []  # no Slack Web API call for any of them
    assert after == before  # no claim, conversation, message or outbox row
    assert len(model.requests) == 1  # only the well-formed DM reached the model
    assert _errors(caplog) == []  # no traceback, no failed listener
    refusals = [r.getMessage() for r in caplog.records if "Slack request refused" in r.getMessage()]
    assert len(refusals) == len(MALFORMED) + len(badly_signed)


async def test_url_verification_ssl_check_and_unknown_types_are_still_answered(
    tmp_path: Path,
) -> None:
    """The shape check lets through what Slack does send, and types we do not handle."""
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        challenge = await rig.post(_json({"type": "url_verification", "challenge": "c1"}), JSON)
        ssl_check = await rig.post(b"ssl_check=1&token=verification-token", FORM)
        unknown = await rig.post(_json({"type": "app_rate_limited", "team_id": "T0TEAM"}), JSON)
        shortcut = await rig.interaction({"type": "shortcut", "callback_id": "x", "team": None})
    assert challenge.status_code == 200 and challenge.json() == {"challenge": "c1"}
    assert (ssl_check.status_code, unknown.status_code, shortcut.status_code) == (200, 200, 200)


# ---- mutations of real payloads: any field of any type → 200 or 400, never 5xx -----------

ODD_VALUES: tuple[Any, ...] = (None, 7, "x", [], {"id": 7}, True)


async def test_any_field_of_any_type_is_answered_without_a_5xx(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = FunctionLLM(lambda request: text("ok"))
    event = event_callback(dm("hello there"), event_id="EvMUTATED")
    click = block_action("x", channel="D0ALICE", message_ts=new_ts())
    command = slash_command("status")
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        statuses: dict[int, int] = {}
        for body, kind in [
            *((_json(m), JSON) for m in mutations(event, ODD_VALUES)),
            *((_interaction(m), FORM) for m in mutations(click, ODD_VALUES)),
            *(
                (urlencode({**command, key: odd}).encode(), FORM)
                for key in command
                for odd in ("", 7)
            ),
        ]:
            response = await rig.post(body, kind)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        await rig.settle()
    assert set(statuses) <= {200, 400}, statuses
    assert statuses.get(400) and statuses.get(200)  # both kinds of answer were exercised
    assert _errors(caplog) == []
