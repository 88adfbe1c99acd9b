"""Where and how the bot answers: real HTTP into the real bolt app inside `serve`, signed
requests, a scripted model, the Outgoing sandbox, and a fake Slack Web API that records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conversations.llm import LLMError, LLMRequest, LLMResponse, TextPart
from conversations.manager import SORRY_MODEL
from integrations.sandbox import SandboxConfig
from tests.bot.slack.fake_slack import BOT_USER
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    channel_message,
    dm,
    mention,
    new_ts,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import FunctionLLM, ScriptedLLM, call, tool_results


def _user_texts(model: ScriptedLLM) -> list[str]:
    """What the model was told people said (the newest user message of each request)."""
    texts = []
    for request in model.requests:
        for part in request.messages[-1].parts:
            if isinstance(part, TextPart):
                texts.append(part.text)
    return texts


async def test_a_dm_is_answered_in_the_dm(tmp_path: Path) -> None:
    model = ScriptedLLM(["Hello! What are you in the mood for?"])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        response = await rig.event(dm("hi there"))
        assert response.status_code == 200
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE" and "thread_ts" not in post.args
    assert post.blocks[0]["type"] == "markdown"
    assert post.blocks[0]["text"] == "Hello! What are you in the mood for?"
    assert post.args["unfurl_links"] is False and post.args["unfurl_media"] is False
    assert post.token == "xoxb-0000-test-token"
    assert _user_texts(model) == ["hi there"]


async def test_a_mention_is_answered_in_its_thread_and_followups_there_need_no_mention(
    tmp_path: Path,
) -> None:
    model = ScriptedLLM(["Sure — where?", "Brooklyn it is."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        asked = mention("can you find us something for Friday?")
        await rig.event(asked)
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
        followup = channel_message("Brooklyn please", user="U0BOB", thread_ts=asked["ts"])
        await rig.event(followup)
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 2)
        await rig.settle()
    first, second = rig.slack.posts
    assert first.args["channel"] == "C0PLANS" and first.args["thread_ts"] == asked["ts"]
    assert second.args["thread_ts"] == asked["ts"] and "Brooklyn it is." in second.block_text
    # The mention itself is not part of what the model reads; both turns share the thread.
    assert _user_texts(model) == ["can you find us something for Friday?", "Brooklyn please"]
    assert len(model.requests[1].messages) == 3  # the thread's history came along
    # The thread status showed work going on, and was cleared at the end.
    statuses = [c.args["status"] for c in rig.slack.of("assistant.threads.setStatus")]
    assert statuses[0] == "is thinking…" and statuses[-1] == ""


async def test_channel_chatter_and_foreign_threads_are_ignored(tmp_path: Path) -> None:
    model = ScriptedLLM([])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        answers = [
            await rig.event(channel_message("lunch anyone?")),
            await rig.event(channel_message("in a thread", thread_ts=new_ts())),
            await rig.event(channel_message("group dm", channel="G0GROUP", channel_type="mpim")),
        ]
        await asyncio.sleep(0.2)
        await rig.settle()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert model.requests == [] and rig.slack.replies == []


async def test_own_bot_edited_and_deleted_messages_are_ignored(tmp_path: Path) -> None:
    model = ScriptedLLM([])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        ignored = [
            dm("I am the concierge", user=BOT_USER),
            dm("beep", bot_id="B0OTHER", subtype="bot_message"),
            dm("beep", user="U0OTHERBOT", bot_id="B0OTHER"),
            {**dm(""), "subtype": "message_changed", "message": {"text": "edited", "user": "U1"}},
            {**dm(""), "subtype": "message_deleted", "deleted_ts": new_ts()},
            dm("joined", subtype="channel_join"),
        ]
        answers = [await rig.event(event) for event in ignored]
        await asyncio.sleep(0.2)
        await rig.settle()
    assert [a.status_code for a in answers] == [200] * len(ignored)
    assert model.requests == [] and rig.slack.replies == []


async def test_details_button_shows_sessions_and_prices_without_the_model(tmp_path: Path) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "Enjoy!"])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(dm("find jazz in Brooklyn"))
        await rig.slack.wait_for(lambda: any("Details" in c.block_text for c in rig.slack.replies))
        await rig.settle()
        cards = next(c for c in rig.slack.replies if "Details" in c.block_text)
        actions = [b for b in cards.blocks if b["type"] == "actions"]
        details = actions[0]["elements"][0]
        assert details["text"]["text"] == "Details" and details["value"].startswith("details:")
        before = len(rig.slack.replies)
        answer = await rig.interaction(
            block_action(
                details["value"], channel="D0ALICE", message_ts=cards.ts, action_id="btn-0"
            )
        )
        assert answer.status_code == 200
        await rig.slack.wait_for(lambda: any(b["type"] == "header" for b in _blocks(rig)))
        await rig.settle()
    shown = rig.slack.replies[before:]
    detail = next(c for c in shown if any(b["type"] == "header" for b in c.blocks))
    header = next(b for b in detail.blocks if b["type"] == "header")
    first_card = next(b for b in cards.blocks if b["type"] == "section")["text"]["text"]
    assert header["text"]["text"] in first_card  # the detail is of the clicked card
    assert "Sessions and tickets" in detail.block_text
    assert len(model.requests) == 2  # the click never reached the model


def _blocks(rig: SlackRig) -> list[dict[str, object]]:
    return [b for c in rig.slack.replies for b in c.blocks]


async def test_search_cards_carry_outgoing_results_and_a_more_button(tmp_path: Path) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "Enjoy!"])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(dm("find jazz in Brooklyn"))
        await rig.slack.wait_for(lambda: any("Details" in c.block_text for c in rig.slack.replies))
        await rig.settle()
    (started,) = tool_results(model.requests[1])
    assert started["status"] == "searching"
    cards = next(c for c in rig.slack.replies if "Details" in c.block_text)
    sections = [b["text"]["text"] for b in cards.blocks if b["type"] == "section"]
    assert 1 <= len(sections) <= 5
    assert all(b["accessory"]["type"] == "image" for b in cards.blocks if b["type"] == "section")
    ids = [e["action_id"] for b in cards.blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(ids) == len(set(ids)) and all(i.startswith("btn-") for i in ids)
    assert cards.blocks[-1]["elements"][-1]["value"] == "more"


async def test_slash_command_help_settings_and_free_text(tmp_path: Path) -> None:
    model = ScriptedLLM(["Happy to help in here."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        helped = await rig.command("help")
        configured = await rig.command("settings")
        asked = await rig.command("anything fun tonight?")
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    assert helped.status_code == 200 and "/concierge orders" in helped.json()["text"]
    assert "Activities (Outgoing): connected" in configured.json()["text"]
    assert "our DM" in asked.json()["text"]
    (opened,) = rig.slack.of("conversations.open")
    assert opened.args["users"] == "U0ALICE"
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE" and "Happy to help in here." in post.block_text
    assert _user_texts(model) == ["anything fun tonight?"]


async def test_slash_orders_and_the_home_tab_show_the_persons_orders(tmp_path: Path) -> None:
    model = ScriptedLLM([call("list_orders"), "That's all of them."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.command("orders")
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 2)
        home = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}
        await rig.event(home)
        messages_tab = {**home, "tab": "messages"}
        await rig.event(messages_tab)
        await rig.event(messages_tab)
        await rig.slack.wait_for(lambda: bool(rig.slack.of("views.publish")))
        await rig.settle()
    assert _user_texts(model)[0] == "my orders"
    assert "You have no bookings yet." in rig.slack.posts[0].block_text
    (published,) = rig.slack.of("views.publish")
    view = published.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert published.args["user_id"] == "U0ALICE" and view["type"] == "home"
    text = json.dumps(view)
    assert "Your recent orders" in text and "You have no bookings yet." in text
    (prompts,) = rig.slack.of("assistant.threads.setSuggestedPrompts")  # once per DM
    assert prompts.args["channel_id"] == "D0ALICE" and "thread_ts" not in prompts.args
    assert 1 <= len(prompts.args["prompts"]) <= 4


async def test_unhandled_requests_are_acknowledged_not_404(tmp_path: Path) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        reaction = {"type": "reaction_added", "user": "U0ALICE", "reaction": "tada"}
        answers = [
            await rig.event(reaction),
            await rig.interaction({"type": "view_closed", "team": {"id": "T0TEAM"}, "view": {}}),
            await rig.interaction(
                {**block_action("x", channel="C1", message_ts=new_ts()), "actions": []}
            ),
        ]
        body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
        challenge = await rig.post(body, "application/json")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert challenge.status_code == 200 and challenge.json() == {"challenge": "abc123"}


async def test_a_model_failure_becomes_a_short_message_in_the_thread(tmp_path: Path) -> None:
    def unavailable(request: LLMRequest) -> LLMResponse:
        raise LLMError("overloaded")

    async with running_slack(FunctionLLM(unavailable), database_url=sqlite_url(tmp_path)) as rig:
        asked = mention("anything tonight?")
        await rig.event(asked)
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    (post,) = rig.slack.posts
    assert post.args["thread_ts"] == asked["ts"] and SORRY_MODEL in post.block_text


async def test_status_and_the_home_tab_list_the_persons_running_jobs(tmp_path: Path) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "On it."])
    sandbox = SandboxConfig.fast(search_latency_s=3.0)
    async with running_slack(model, database_url=sqlite_url(tmp_path), sandbox=sandbox) as rig:
        idle = await rig.command("status")
        await rig.event(dm("find jazz in Brooklyn"))
        await rig.slack.wait_for(lambda: len(model.requests) == 2)
        busy = await rig.command("status")
        home = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}
        await rig.event(home)
        await rig.slack.wait_for(lambda: bool(rig.slack.of("views.publish")))
        await rig.slack.wait_for(lambda: any("Details" in c.block_text for c in rig.slack.replies))
        await rig.settle()
    assert idle.json() == {
        "text": "Nothing is running for you right now.",
        "response_type": "ephemeral",
    }
    assert busy.json()["response_type"] == "ephemeral"
    assert "Search for “jazz” in Brooklyn: still searching" in busy.json()["text"]
    (published,) = rig.slack.of("views.publish")
    view = published.args["view"]
    text = json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)
    assert "Working on it for you" in text and "still searching" in text
