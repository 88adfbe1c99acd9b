"""Two workspaces installed side by side, each bound to its own Outgoing key, with the same
channel and user ids on purpose: conversations, approvals, booking webhooks and orders never
cross, and every partner call carries the key of the workspace it was made for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlmodel import select

from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolResultPart
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, RunningSandbox, SandboxConfig
from integrations.sandbox.state import key_fingerprint
from storage.models import Approval
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import SlackRig, block_action, dm, oauth_settings, running_slack
from tests.bot.slack.test_install import SECOND_KEY, TEAM_A, TEAM_B, install_and_bind
from tests.factories import book_call
from tests.fakes.llm import FunctionLLM, call, calls, text, tool_results

KEYS = {TEAM_A: DEFAULT_NEGOTIATED_KEY, TEAM_B: SECOND_KEY}


def _model(sandbox: list[RunningSandbox], seen: list[tuple[str, int]]) -> FunctionLLM:
    """Searches on "jazz", books the late set on "book", lists orders on "orders"; records
    (what was said, how many messages the model saw) for each new turn."""

    def respond(request: LLMRequest) -> LLMResponse:
        last = request.messages[-1]
        if any(isinstance(p, ToolResultPart) for p in last.parts):
            errors = [str(r["error"]) for r in tool_results(request) if "error" in r]
            return text(errors[0] if errors else "Done.")
        said = " ".join(p.text for p in last.parts if isinstance(p, TextPart))
        seen.append((said, len(request.messages)))
        if "jazz" in said:
            return calls(call("search_activities", prompt="jazz", location="Brooklyn"))
        if "orders" in said:
            return calls(call("list_orders"))
        return calls(book_call(sandbox[0].state))

    return FunctionLLM(respond)


def _confirm_button(rig: SlackRig, team: str) -> tuple[str, Call]:
    for post in rig.slack.posts:
        if post.token and team in post.token:
            for block in post.blocks:
                for element in block.get("elements", []) if block["type"] == "actions" else []:
                    if str(element.get("value", "")).startswith("approve:"):
                        return str(element["value"]), post
    raise AssertionError(f"no confirmation posted in {team}")


async def _turn(rig: SlackRig, team: str, words: str, expect: str) -> Call:
    """Alice says `words` in her DM in `team`; the first new post there containing `expect`."""
    before = len(rig.slack.replies)
    await rig.event(dm(words, team=team), team=team)

    def answered() -> list[Call]:
        return [
            p
            for p in rig.slack.replies[before:]
            if p.token and team in p.token and expect in p.block_text
        ]

    await rig.slack.wait_for(lambda: bool(answered()))
    await rig.settle()
    return answered()[0]


async def _press(rig: SlackRig, team: str, value: str, message: Call) -> None:
    payload = block_action(value, channel="D0ALICE", message_ts=message.ts, team=team)
    assert (await rig.interaction(payload)).status_code == 200
    await rig.settle()


async def _settle_bookings(rig: SlackRig) -> None:
    async with asyncio.timeout(10):
        await rig.outgoing.state.wait_for_webhooks()
        await rig.services.settle_jobs(5)


async def test_two_workspaces_never_cross_and_each_acts_with_its_own_key(
    tmp_path: Path,
) -> None:
    sandbox_cfg = SandboxConfig.fast(negotiated_keys=frozenset(KEYS.values()))
    sandbox: list[RunningSandbox] = []
    seen: list[tuple[str, int]] = []
    async with running_slack(
        _model(sandbox, seen),
        database_url=f"sqlite:///{tmp_path / 'two.db'}",
        sandbox=sandbox_cfg,
        **oauth_settings(),
    ) as rig:
        sandbox.append(rig.outgoing)
        journal = rig.outgoing.state
        bot_tokens = {team: await install_and_bind(rig, team, key) for team, key in KEYS.items()}
        bound_at = len(journal.journal)  # binding itself checked each key with Outgoing

        # Conversations: the same DM id in both workspaces is two conversations.
        for team in (TEAM_A, TEAM_B):
            await _turn(rig, team, "jazz in Brooklyn", "Details")
        assert [n for _, n in seen] == [1, 1]

        # Approvals: A's Confirm pressed in B is not found there and changes nothing.
        await _turn(rig, TEAM_A, "book the late set", "Confirm")
        value, approval_post = _confirm_button(rig, TEAM_A)
        await _press(rig, TEAM_B, value, approval_post)
        await rig.slack.wait_for(
            lambda: any("can't find that confirmation" in p.block_text for p in rig.slack.posts)
        )
        (not_found,) = [p for p in rig.slack.posts if "can't find that" in p.block_text]
        assert not_found.token == bot_tokens[TEAM_B]
        async with rig.services.db.session(read_only=True) as session:
            (pending,) = (await session.exec(select(Approval))).all()
        assert pending.status == "pending" and pending.workspace_id == TEAM_A
        assert not journal.requests_to("/partner/v1/bookings", "POST")

        # Each workspace books with its own key; results come back to its own DM.
        await _press(rig, TEAM_A, value, approval_post)
        await _turn(rig, TEAM_B, "book the late set", "Confirm")
        value_b, approval_b = _confirm_button(rig, TEAM_B)
        await _press(rig, TEAM_B, value_b, approval_b)
        await _settle_bookings(rig)
        rig.services.outbox.wake()
        await rig.slack.wait_for(
            lambda: sum("Booked:" in p.block_text for p in rig.slack.posts) == 2
        )
        booked = {p.token: p for p in rig.slack.posts if "Booked:" in p.block_text}
        assert set(booked) == set(bot_tokens.values())

        # Webhooks: one workspace's booking token never accepts the other's booking.
        deliveries = {
            d.payload["booking_id"]: d
            for d in journal.webhook_deliveries
            if d.payload["status"] == "confirmed"
        }
        first, second = deliveries.values()
        async with httpx.AsyncClient() as http:
            crossed = [
                await http.post(first.url, json=second.payload),
                await http.post(second.url, json=first.payload),
            ]
        assert [r.status_code for r in crossed] == [404, 404]

        # Orders: each workspace sees its own, through its own key.
        for team in (TEAM_A, TEAM_B):
            await _turn(rig, team, "my orders", "Done")

    for path, method in (
        ("/partner/v1/search", "GET"),
        ("/partner/v1/bookings", "POST"),
        ("/partner/v1/orders", "GET"),
    ):
        since = {id(e) for e in journal.journal[bound_at:]}
        used = [e.key_fingerprint for e in journal.requests_to(path, method) if id(e) in since]
        expected = [key_fingerprint(KEYS[TEAM_A]), key_fingerprint(KEYS[TEAM_B])]
        assert used == expected, path
    users = [e.headers.get("x-external-user-id") for e in journal.journal[bound_at:]]
    assert len(set(users) - {None}) == 2  # Alice of A and Alice of B are two people
