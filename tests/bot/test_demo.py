"""`concierge demo` as a person runs it: piped stdin, sandbox partners, with and without a key."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import sys
from pathlib import Path

from tests.fakes.messages_api import FakeMessagesAPI, ToolUse, text_reply, tool_reply

ROOT = Path(__file__).resolve().parents[2]


async def run_demo(cwd: Path, stdin: str, **env: str) -> str:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "OUTGOING_", "CONCIERGE_"))
    }
    environment.update(env, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        cwd=cwd,
        env=environment,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=90)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


async def test_demo_answers_a_search_offline_with_sandbox_cards(tmp_path: Path) -> None:
    out = await run_demo(tmp_path, "search jazz in Brooklyn\ndetails 2\n")
    assert "offline mode" in out
    assert "… Searching for jazz in Brooklyn…" in out
    assert "ideas for jazz in Brooklyn:" in out
    assert " 2. Late Set: Brooklyn Jazz Quartet" in out
    assert "Sessions and tickets" in out  # details 2 answered after the search finished
    assert "\x1b" not in out  # piped output is plain
    key = tmp_path / ".concierge" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / ".concierge" / "concierge.db").exists()


async def test_demo_books_with_a_typed_confirmation(tmp_path: Path) -> None:
    out = await run_demo(tmp_path, "search jazz in Brooklyn\nbook 1 2 Free RSVP\ny\n")
    assert "Book Celebrate Brooklyn! Jazz in Prospect Park?" in out
    assert "2 × Free RSVP (free)" in out and "Total: free (fees included)" in out
    assert "Confirm? Reply y to book or n to cancel." in out
    assert "✅ Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park" in out
    # The webhook result arrives after the input ended and is still printed.
    assert "Booked: Celebrate Brooklyn! Jazz in Prospect Park" in out
    assert "Confirmation code: OG-" in out


async def test_demo_uses_claude_when_a_key_is_set(tmp_path: Path) -> None:
    fake = FakeMessagesAPI(
        [
            tool_reply(ToolUse("search_activities", {"prompt": "jazz", "location": "Brooklyn"})),
            text_reply("Searching Brooklyn for you now."),
        ]
    )
    async with fake.serve() as base_url:
        out = await run_demo(
            tmp_path,
            "find jazz concerts in Brooklyn this weekend\n",
            ANTHROPIC_API_KEY="sk-ant-test",
            ANTHROPIC_BASE_URL=base_url,
        )
    assert "Using claude-sonnet-5." in out and "offline" not in out
    assert "Late Set: Brooklyn Jazz Quartet" in out
    said = out.index("Searching Brooklyn for you now.")
    assert said < out.index("Late Set: Brooklyn Jazz Quartet")  # the cards come after
    first, second = fake.requests
    assert [t["name"] for t in first.tools][:2] == ["search_activities", "nearby_activities"]
    assert first.system[-1]["cache_control"] == {"type": "ephemeral"}  # tools come before it
    assert first.messages[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    (result,) = second.tool_results
    assert '"status": "searching"' in str(result["content"])


async def test_demo_places_a_call_and_the_typed_answer_reaches_it(tmp_path: Path) -> None:
    request = "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"
    out = await run_demo(tmp_path, f"{request}\ny\n1\norders\n")
    assert "Call Nobu?" in out and "Number: +1 212-555-0100" in out
    assert "Call? Reply y to place the call or n to cancel." in out
    assert "They have 21:15 on the terrace, or 22:00 inside — which would you like?" in out
    assert "✓ 21:15 on the terrace — passed on to the call" in out
    assert "Outcome: Table for 4 booked" in out
    assert "Booked by phone (1):" in out and "• Nobu," in out


async def test_demo_reserves_a_table_and_hands_off_the_payment(tmp_path: Path) -> None:
    answers = "New York\nAlex Traveler\nalex@example.com\n+1 212 555 0199\ny\n"
    out = await run_demo(
        tmp_path, f"reserve a table for 2 at Le Bernardin tomorrow at 7pm\n{answers}orders\n"
    )
    assert "In which city?" in out and "What name should the reservation be under?" in out
    assert "Reserve? Reply y to reserve or n to cancel." in out
    assert "Under: Alex Traveler · alex@example.com · +12125550199" in out
    assert "No table at 19:00 — booked 19:30, within your ±90 min" in out
    assert "Complete payment: http://127.0.0.1:" in out
    assert "Reservations (1):" in out


async def test_demo_books_a_flight_with_the_passport_typed_once(tmp_path: Path) -> None:
    answers = "1\nAlex Traveler\nalex@example.com\n+1 212 555 0199\ny\n1985-07-21, K7654321, US\n"
    out = await run_demo(tmp_path, f"book a flight from JFK to LHR on friday\n{answers}orders\n")
    assert "For how many passengers?" in out
    assert "Passport details: I ask you for them privately once you press Reserve" in out
    assert "passport number and the passport's issuing country" in out
    assert "Your passport details are sent to them once and not kept here." in out
    assert "Complete payment: http://127.0.0.1:" in out
    for stored in (tmp_path / ".concierge").glob("concierge.db*"):  # the WAL file too
        assert b"K7654321" not in stored.read_bytes(), stored.name


PLAN = "plan a night out with live music in brooklyn under $40"


async def test_demo_runs_a_group_plan_with_the_scripted_friends(tmp_path: Path) -> None:
    out = await run_demo(tmp_path, f"{PLAN}\nvote 1\nclose vote\ni'm in\neach pays\ny\n")
    assert "Bea, Cal and Dee are in this chat too" in out
    assert "🗳️ Vote: a night out with live music in brooklyn under $40." in out
    assert re.search(r"^Type `vote 1`…`vote [234]`, or `close vote`\.$", out, re.M)
    assert "Bea votes for 1. " in out and "Dee votes for 2. " in out
    assert "— 2 votes (Bea and Cal)" in out  # the poll, edited as the friends vote
    assert "— 3 votes (Bea, Cal and You)" in out  # `vote 1`
    assert "🗳️ Voting closed" in out and "🎉 The vote (3 of 4): " in out
    assert "Type `i'm in`, `i'm out`, `each pays their own`, or `i'll pay for everyone`." in out
    assert "Bea taps I'm in." in out and "In so far (4): Bea, Cal, Dee and You" in out
    for friend in ("Bea", "Cal", "Dee"):  # each approves their own share, privately
        assert f"Confirm? Reply `as {friend}: y` to book or `as {friend}: n` to cancel." in out
        assert f"(to {friend}, privately) ✅ Confirmed: booking " in out
        assert f"(to {friend}, privately) Booked: " in out
    assert "Confirm? Reply y to book or n to cancel." in out  # the terminal's own
    assert "Plan outcome for " in out and "✅ Booked: Bea, Cal, Dee and You." in out
    assert out.index("Plan outcome") > out.index("(to Dee, privately) ✅ Confirmed")


async def test_demo_plan_tie_is_picked_and_the_organiser_pays_for_all(tmp_path: Path) -> None:
    typed = f"{PLAN}\nvote 2\nclose vote\npick 2\nim in\npay for all\nyes\n"
    out = await run_demo(tmp_path, typed)
    second = re.search(r"^2\. (?P<name>.+) — 2 votes \(Dee and You\)$", out, re.M)
    assert second is not None, out
    assert "It's a tie between " in out and "Type `pick 1`…`pick 2`." in out
    assert f"Picked: {second['name']}." in out
    assert f"🎉 The organiser's pick: {second['name']}, " in out
    assert "For 4 people: " in out
    assert "(to Bea, privately) Book" not in out  # one booking, the organiser's
    assert "✅ Booked: Bea, Cal, Dee and You." in out
    assert "(to Cal, privately) You're booked: " in out
