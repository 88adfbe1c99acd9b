"""With the right secret, a body that is not an update Telegram would send gets a plain 400,
never a 5xx or a traceback, and reaches nothing: no handler, no Bot API call, no row. The
secret is checked first. Driven through `serve`'s real `POST /telegram/webhook`."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.bot.mutations import mutations
from tests.bot.rows import row_counts
from tests.bot.telegram.harness import (
    ALICE,
    GROUP,
    bot_added,
    callback_query,
    message,
    running_telegram,
    update,
)

ALICE_CHAT = int(ALICE["id"])


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _with(changes: dict[str, Any], base: dict[str, Any] | None = None) -> bytes:
    """An update of `message("help")` with fields of the message replaced."""
    body = base or message("help")
    return _json(update({**body, **changes}, update_id=900_001))


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "not JSON": b"{not json",
    "not UTF-8": b'{"update_id": 1, "message": "\xff"}',
    "JSON array": _json([update(message("help"))]),
    "JSON null": b"null",
    "JSON string": b'"update"',
    "nested 100k deep": b"[" * 100_000 + b"]" * 100_000,
    "no update_id": _json({"message": message("help")}),
    "update_id a string": _json({"update_id": "1", "message": message("help")}),
    "update_id a float": _json({"update_id": 1.5}),
    "update_id true": _json({"update_id": True}),
    "update_id NaN": b'{"update_id": NaN}',
    "update_id negative": _json({"update_id": -1}),
    "update_id over 64 bits": _json({"update_id": 2**70}),
    "message a string": _json({"update_id": 2, "message": "help"}),
    "message a list": _json({"update_id": 3, "message": [message("help")]}),
    "message without chat": _json(
        update({k: v for k, v in message("help").items() if k != "chat"})
    ),
    "chat id a string": _with({"chat": {"id": str(ALICE_CHAT), "type": "private"}}),
    "chat a number": _with({"chat": ALICE_CHAT}),
    "message_id a string": _with({"message_id": "1"}),
    "date a string": _with({"date": "yesterday"}),
    "text a number": _with({"text": 5}),
    "entities a string": _with({"entities": "bot_command"}),
    "entity offset negative": _with(
        {"entities": [{"type": "bot_command", "offset": -1, "length": 5}]}
    ),
    "from a string": _with({"from": "alice"}),
    "from without id": _with({"from": {"is_bot": False, "first_name": "Alice"}}),
    "location a string": _json(update(message(None, location="here"))),
    "callback_query a string": _json({"update_id": 4, "callback_query": "details"}),
    "callback_query without from": _json(
        {
            "update_id": 5,
            "callback_query": {
                k: v
                for k, v in callback_query("x", on=1, chat=ALICE_CHAT)["callback_query"].items()
                if k != "from"
            },
        }
    ),
    "callback data a number": _json(
        {
            "update_id": 6,
            "callback_query": {
                **callback_query("x", on=1, chat=ALICE_CHAT)["callback_query"],
                "data": 5,
            },
        }
    ),
    "my_chat_member chat a number": _json(bot_added(update_id=900_002, chat=GROUP)),
    "my_chat_member without new member": _json(bot_added(update_id=900_002, new_chat_member=None)),
}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_malformed_bodies_with_the_right_secret_get_a_plain_400_and_reach_nothing(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_telegram(None, database_url=sqlite_url) as rig:
        await rig.settle()
        calls_before = len(rig.telegram.calls)
        rows_before = await row_counts(rig.services.db)
        answers = {}
        for name, body in MALFORMED.items():
            response = await rig.post(body)
            answers[name] = (
                response.status_code,
                response.text,
                response.headers.get("content-type", ""),
            )
        wrong_secret = [
            (await rig.post(b, secret="wrong-secret")).status_code for b in MALFORMED.values()
        ]
        no_secret = [(await rig.post(b, secret=None)).status_code for b in MALFORMED.values()]
        await rig.settle()
        rows_after = await row_counts(rig.services.db)
        calls_after = rig.telegram.calls[calls_before:]
        # The door still works: a well-formed update is answered.
        await rig.deliver(update(message("help")))
        answered = rig.telegram.sent(ALICE_CHAT)
    wrong = {n: a for n, a in answers.items() if a[:2] != (400, "malformed update")}
    assert wrong == {}
    assert all(a[2].startswith("text/plain") for a in answers.values())
    assert set(wrong_secret) == {403} and set(no_secret) == {401}  # the secret comes first
    assert [c.method for c in calls_after] == []  # no sendMessage, no sendChatAction
    assert rows_after == rows_before
    assert len(answered) == 1
    assert _errors(caplog) == []


# ---- mutations of real updates: any field of any type → 200 or 400, never 5xx ------------

ODD_VALUES: tuple[Any, ...] = (None, 7, -7, "x", [], {"id": 7}, True, 1.5)


async def test_any_field_of_any_type_is_answered_without_a_5xx(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    group_reply = message(
        "@ConciergeBot help",
        chat=GROUP,
        reply_to={"message_id": 1, "date": 1, "chat": {"id": GROUP, "type": "supergroup"}},
    )
    originals = [
        update(message("/search jazz")),
        update(group_reply),
        callback_query("x", on=1, chat=ALICE_CHAT),
        bot_added(update_id=900_002),
    ]
    async with running_telegram(None, database_url=sqlite_url) as rig:
        statuses: dict[int, int] = {}
        for original in originals:
            for mutated in mutations(original, ODD_VALUES):
                response = await rig.post(mutated)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        await rig.settle()
    assert set(statuses) <= {200, 400}, statuses
    assert statuses.get(400) and statuses.get(200)
    assert _errors(caplog) == []
