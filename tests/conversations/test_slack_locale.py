"""A Slack user's own locale and time zone (`users.info` with `include_locale`) shape the
amounts and times they see, and never reach the partner."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bot.slack.fake_slack import FakeSlackAPI
from tests.bot.slack.harness import mention, running_slack, sqlite_url
from tests.fakes.llm import ScriptedLLM, call

CELEBRATE = "Celebrate Brooklyn! Jazz in Prospect Park"


async def test_a_german_slack_user_reads_prices_their_way(tmp_path: Path) -> None:
    slack = FakeSlackAPI()
    slack.users["U0ALICE"] = {
        "id": "U0ALICE",
        "name": "alice",
        "tz": "America/New_York",
        "locale": "de-DE",
        "profile": {"display_name": "Alice"},
    }
    model = ScriptedLLM([call("nearby_activities", place="Brooklyn"), "Here you go."])
    async with running_slack(model, database_url=sqlite_url(tmp_path), slack=slack) as rig:
        await rig.event(mention("what's on near brooklyn"))
        await rig.slack.wait_for(
            lambda: any("Ideas near" in c.block_text for c in rig.slack.replies)
        )
        await rig.settle()
        provisioned = [str(e.body) for e in rig.outgoing.state.journal if e.method == "POST"]
    lookups = rig.slack.of("users.info")
    assert lookups and all(c.args.get("include_locale") in ("1", "true", True) for c in lookups)
    shown = next(c.block_text for c in rig.slack.replies if "Ideas near" in c.block_text)
    assert "Ideas near Brooklyn" in shown
    assert ",00\xa0$" in shown and not re.search(r"\$\d", shown)
    assert provisioned and not any("de-DE" in body or "locale" in body for body in provisioned)
