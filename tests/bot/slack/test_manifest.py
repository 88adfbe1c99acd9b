"""manifest.yml is importable as written and lists exactly what the code relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.slack import EVENTS_PATH
from bot.slack.app import BOT_EVENTS, BOT_SCOPES
from bot.slack.oauth import REDIRECT_PATH
from bot.slack.surfaces import COMMAND, SUGGESTED_PROMPTS

MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"


def _manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_lists_exactly_the_events_and_scopes_the_code_uses() -> None:
    manifest = _manifest()
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == sorted(BOT_EVENTS)


def test_every_request_url_is_the_one_events_endpoint() -> None:
    manifest = _manifest()
    settings, features = manifest["settings"], manifest["features"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in features["slash_commands"]),
    ]
    assert all(url == f"https://YOUR-HOST{EVENTS_PATH}" for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in features["slash_commands"]] == [COMMAND]
    redirects = manifest["oauth_config"]["redirect_urls"]
    assert redirects == [f"https://YOUR-HOST{REDIRECT_PATH}"]


def test_bot_user_messages_tab_and_agent_view_with_suggested_prompts() -> None:
    features = _manifest()["features"]
    assert features["bot_user"]["display_name"]
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert "assistant_view" not in features  # the legacy experience
    agent = features["agent_view"]
    assert agent["agent_description"].strip()
    assert agent["suggested_prompts"] == list(SUGGESTED_PROMPTS)
    assert all(len(p["title"]) <= 75 for p in agent["suggested_prompts"])
