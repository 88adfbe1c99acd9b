"""The model's answer grows in a private chat as drafts (`sendMessageDraft`), at most one
every two seconds and never one per chunk, then arrives once as a message; a group gets the
answer whole. Through the real anthropic SDK (streaming) against the fake Messages API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from integrations.anthropic_llm import AnthropicLLM
from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call
from tests.bot.telegram.harness import ALICE, GROUP, TelegramRig, message, running_telegram, update
from tests.fakes.messages_api import FakeMessagesAPI, Reply, Text

ANSWER = (
    "Friday looks good for live music. Bar LunÀtico has a late set at ten, Smalls runs "
    "a jam session after midnight, and Blue Note has a dinner show at eight. Tell me which "
    "one you like and I will check the tickets."
)


@asynccontextmanager
async def _writing_slowly(sqlite_url: str, gap: float) -> AsyncIterator[TelegramRig]:
    api = FakeMessagesAPI([Reply((Text(ANSWER),), gap=gap)])
    async with api.serve() as model_url:
        model = AnthropicLLM.from_settings("sk-ant-test-key", model_url, "claude-sonnet-5")
        try:
            async with running_telegram(model, database_url=sqlite_url) as rig:
                yield rig
        finally:
            await model.client.close()
    assert api.errors == [] and all(r.stream for r in api.requests)


def _drafts(rig: TelegramRig) -> list[Call]:
    return [c for c in rig.telegram.calls if c.method == "sendMessageDraft"]


async def test_a_private_answer_grows_in_drafts_then_arrives_once(sqlite_url: str) -> None:
    chat = int(ALICE["id"])
    async with _writing_slowly(sqlite_url, gap=0.1) as rig:  # ~45 events: about 4.5 s
        await rig.deliver(update(message("what's good on Friday?")))
        await rig.telegram.wait_for(lambda: bool(rig.telegram.sent(chat)))
        await rig.settle()
    drafts = _drafts(rig)
    assert 2 <= len(drafts) <= 4, [d.text for d in drafts]  # not one per word
    assert len({d.params["draft_id"] for d in drafts}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(drafts)]
    assert all(g >= 1.9 for g in gaps), gaps
    assert all(ANSWER.startswith(d.text) for d in drafts)  # each a prefix of the answer
    (answer,) = rig.telegram.sent(chat)
    assert answer.text == ANSWER and not answer.silent  # the one notification


async def test_a_group_gets_the_answer_whole_without_drafts(sqlite_url: str) -> None:
    async with _writing_slowly(sqlite_url, gap=0.0) as rig:
        await rig.deliver(update(message(f"@{BOT_USERNAME} what's good on Friday?", chat=GROUP)))
        await rig.telegram.wait_for(lambda: bool(rig.telegram.sent(GROUP)))
        await rig.settle()
    assert _drafts(rig) == []
    (answer,) = rig.telegram.sent(GROUP)
    assert ANSWER in answer.text


async def test_a_refused_draft_stops_drafting_and_the_answer_still_arrives(
    sqlite_url: str,
) -> None:
    chat = int(ALICE["id"])
    async with _writing_slowly(sqlite_url, gap=0.05) as rig:
        refused = {"ok": False, "error_code": 400, "description": "Bad Request: unknown method"}
        rig.telegram.fail_once("sendMessageDraft", 400, refused)
        await rig.deliver(update(message("what's good on Friday?")))
        await rig.telegram.wait_for(lambda: bool(rig.telegram.sent(chat)))
        await rig.settle()
    assert len(_drafts(rig)) == 1  # the refused one; no more were tried
    (answer,) = rig.telegram.sent(chat)
    assert answer.text == ANSWER
