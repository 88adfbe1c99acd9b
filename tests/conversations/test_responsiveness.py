"""While a 10 s search runs, the same conversation's new message and Confirm click are
answered long before it ends: a job never holds the conversation. (How fast an answer is
under load is measured by the benchmarks, not here: `AT_ONCE_S` only tells "did not wait
for the search" apart from "waited", whatever else the machine is running.)"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conversations.test_booking import Env, make_env, propose_late_set
from tests.fakes.llm import call

__all__ = ["make_env"]

SEARCH_S = 10.0
AT_ONCE_S = SEARCH_S / 4


async def test_a_click_and_a_message_during_a_long_search_are_answered_at_once(
    make_env: Any,
) -> None:
    env: Env = await make_env(search_latency_s=SEARCH_S)
    loop = asyncio.get_running_loop()
    env.script.append(call("search_activities", prompt="jazz", location="Brooklyn"))
    started = loop.time()
    await env.say("find jazz in Brooklyn")
    assert loop.time() - started < AT_ONCE_S and env.chat.texts == ["Done."]
    assert env.chat.updates and not env.chat.updates[-1].done  # the search is still running

    started = loop.time()
    await propose_late_set(env)
    assert loop.time() - started < AT_ONCE_S
    assert any(r.approval is not None for r in env.chat.replies)

    started = loop.time()
    await env.press(env.approval_value())
    assert loop.time() - started < AT_ONCE_S
    assert env.chat.replies[-1].approval is not None
    assert env.chat.replies[-1].approval.status == "granted"
    for _ in range(100):  # the booking job runs beside the search, and finishes first
        await env.services.outbox.deliver_due()
        if any(t.startswith("Booked: ") for t in env.chat.texts):
            break
        await asyncio.sleep(0.05)
    assert any(t.startswith("Booked: ") for t in env.chat.texts)
    assert not any("ideas for" in t for t in env.chat.texts)  # the search is still going
