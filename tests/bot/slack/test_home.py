"""The welcome in Slack: a DM's "help", `/concierge help`, and the App Home with buttons."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.bot.slack.fake_slack import TEAM
from tests.bot.slack.harness import block_action, dm, running_slack, sqlite_url
from tests.fakes.llm import ScriptedLLM, call

HOME = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}


def _home_press(value: str, action_id: str = "home-0") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM},
        "token": "verification-token",
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home"},
        "trigger_id": "1.trigger",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def _buttons(blocks: Any) -> list[dict[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


async def test_help_in_a_dm_is_the_welcome_and_never_reaches_the_model(tmp_path: Path) -> None:
    model = ScriptedLLM([])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(dm("help"))
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    assert model.requests == []
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE"
    assert "Find things to do and book tickets (Outgoing)" in post.block_text
    assert "A workspace admin can connect them with `/concierge settings`." in post.block_text
    labels = [b["text"]["text"] for b in _buttons(post.blocks)]
    assert labels == ["Jazz in Brooklyn tonight", "Things to do near Williamsburg", "My orders",
                      "What's running"]  # fmt: skip


async def test_slash_help_shows_the_welcome_with_its_buttons_privately(tmp_path: Path) -> None:
    model = ScriptedLLM([])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        helped = await rig.command("help")
    answer = helped.json()
    assert answer["response_type"] == "ephemeral" and "/concierge orders" in answer["text"]
    assert "Hi! I'm the concierge." in json.dumps(answer["blocks"])
    values = [b["value"] for b in _buttons(answer["blocks"])]
    assert values == ["try:search-jazz", "try:near-williamsburg", "try:orders", "try:status"]
    assert model.requests == []


async def test_the_app_home_has_buttons_that_run_in_the_dm(tmp_path: Path) -> None:
    model = ScriptedLLM([call("list_orders"), "That's all of them."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(HOME)
        await rig.slack.wait_for(lambda: bool(rig.slack.of("views.publish")))
        (published,) = rig.slack.of("views.publish")
        view = published.args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        buttons = _buttons(view["blocks"])
        orders = next(b for b in buttons if b["text"]["text"] == "My orders")
        pressed = await rig.interaction(_home_press(orders["value"], orders["action_id"]))
        await rig.slack.wait_for(lambda: len(rig.slack.posts) >= 2)
        await rig.settle()
    text = json.dumps(view)
    assert "How to start" in text and "/concierge" in text
    assert [b["text"]["text"] for b in buttons] == [
        "Jazz in Brooklyn tonight",
        "Things to do near Williamsburg",
        "My orders",
        "What's running",
    ]
    assert all(b["action_id"].startswith("home-") for b in buttons)
    assert "Onegent (reservations)" in text and "Table for 2" not in text
    assert pressed.status_code == 200
    assert rig.slack.of("conversations.open")[0].args["users"] == "U0ALICE"
    assert model.requests[0].messages[-1].parts[0].text == "my orders"  # type: ignore[union-attr]
    assert all(p.args["channel"] == "D0ALICE" for p in rig.slack.posts)
    assert "That's all of them." in rig.slack.posts[-1].block_text


async def test_an_example_button_in_the_dm_runs_the_search(tmp_path: Path) -> None:
    model = ScriptedLLM(
        [call("search_activities", prompt="jazz tonight", location="Brooklyn"), "On it."]
    )
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        await rig.event(dm("hi"))
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        welcome = rig.slack.posts[0]
        assert welcome.ts is not None
        press = block_action("try:search-jazz", channel="D0ALICE", message_ts=welcome.ts)
        await rig.interaction(press)
        await rig.slack.wait_for(lambda: any("Details" in c.block_text for c in rig.slack.replies))
        await rig.settle()
        unknown = block_action("try:launch", channel="D0ALICE", message_ts=welcome.ts)
        await rig.interaction(unknown)
        await rig.slack.wait_for(
            lambda: any("no longer active" in c.block_text for c in rig.slack.posts)
        )
        await rig.settle()
    said = model.requests[0].messages[-1].parts[0].text  # type: ignore[union-attr]
    assert said == "search jazz tonight in Brooklyn"
    assert len(model.requests) == 2  # the unknown button never reached the model
