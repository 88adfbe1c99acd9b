"""Phone calls from Slack: confirmation, the live call card, the voice agent's questions in the
thread answered by reply or button, and the outcome on the same card. Real bolt app, signed
requests, the Call Agent sandbox over loopback, a fake Slack Web API that records."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path
from typing import Any

from conversations.llm import ToolResultPart
from conversations.types import ConversationAddress
from integrations.sandbox import DEFAULT_CALL_AGENT_KEY, CallAgentSandboxConfig, SandboxQuestion
from integrations.sandbox.callagent_records import Webhook as SandboxWebhook
from tests.bot.partners import seed_call_webhook
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    dm,
    mention,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import ScriptedLLM, call

NOBU = "+1 212 555 0100"
BRIEF = "Call Nobu for Alice and ask for a table for 4 at 8pm tonight; any time 20:00-22:00."
TERRACE = SandboxQuestion(
    "They have 21:15 on the terrace, or 22:00 inside — which would you like?",
    ("21:15 on the terrace", "22:00 inside"),
)
DEPOSIT = SandboxQuestion("Is a deposit of $20 per person OK?")


def _model() -> ScriptedLLM:
    return ScriptedLLM(
        [
            call(
                "start_call",
                target_phone=NOBU,
                brief=BRIEF,
                callee="Nobu",
                kind="restaurant_booking",
            ),
            "Here is the call for you to confirm.",
        ]
    )


def _with(rig: SlackRig, words: str) -> list[Call]:
    return [
        c for c in rig.slack.replies if words in c.block_text or words in str(c.args.get("text"))
    ]


async def _confirm(rig: SlackRig, channel: str, thread: str | None = None) -> Call:
    """Wait for the confirmation and press Call on it."""
    await rig.slack.wait_for(lambda: bool(_with(rig, "Call Nobu?")))
    confirmation = _with(rig, "Call Nobu?")[0]
    assert "+1 212-555-0100" in confirmation.block_text and "table for 4" in confirmation.block_text
    assert confirmation.buttons.keys() == {"Call", "Cancel"}
    pressed = await rig.interaction(
        block_action(
            confirmation.buttons["Call"],
            channel=channel,
            message_ts=confirmation.ts,
            thread_ts=thread,
        )
    )
    assert pressed.status_code == 200
    return confirmation


async def _question(rig: SlackRig, words: str) -> Call:
    await rig.slack.wait_for(lambda: bool(_with(rig, words)), timeout_s=15)
    return _with(rig, words)[0]


def _card_versions(rig: SlackRig) -> list[Call]:
    return _with(rig, "📞 Call to Nobu")


async def test_a_call_from_a_dm_asks_in_the_dm_and_the_reply_reaches_the_call(
    tmp_path: Path,
) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=20)
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
        await _confirm(rig, "D0ALICE")
        question = await _question(rig, "the voice agent asks")
        # Word for word, with the agent's options as buttons, addressed to Alice.
        assert "They have 21:15 on the terrace, or 22:00 inside — which would you like?" in (
            question.block_text
        )
        assert set(question.buttons) == {"21:15 on the terrace", "22:00 inside"}
        assert question.args["channel"] == "D0ALICE" and "thread_ts" not in question.args
        await rig.event(dm("the terrace please, and a quiet table"))
        sandbox = rig.calls.state
        await rig.slack.wait_for(lambda: bool(sandbox.answers), timeout_s=10)
        ended = await sandbox.wait_until_final(sandbox.call_list[0].call_id)
        await rig.slack.wait_for(
            lambda: any("Outcome:" in c.block_text for c in _card_versions(rig))
        )
        await rig.settle()
    (answer,) = sandbox.answers
    assert answer.answer == "the terrace please, and a quiet table"  # their words, as typed
    assert answer.mode == "voice" and answer.delivered and answer.request_id
    assert ended.status == "completed"
    sent = json.loads(json.dumps(ended.body.model_dump()))
    assert sent["target_phone"] == "+12125550100" and sent["ask_user_mode"] == "stream"
    # One card, edited in place from dialing to the outcome.
    cards = _card_versions(rig)
    assert len({c.ts for c in cards}) == 1
    assert cards[0].method == "chat.postMessage" and cards[-1].method == "chat.update"
    final = cards[-1].block_text
    assert "Call finished." in final and "Outcome:" in final and "Signals:" in final
    assert "Transcript" in cards[-1].buttons and "Cancel call" not in cards[-1].buttons
    assert "Cancel call" in cards[0].buttons
    # The question settled in place, saying the answer reached the call.
    settled = [c for c in _with(rig, "the voice agent asks") if c.method == "chat.update"]
    assert "passed on to the call" in settled[-1].block_text
    # The reply went to the call, not to the model: it heard one request only.
    assert len(model.requests) == 2


async def test_a_call_in_a_channel_thread_with_two_questions_answered_by_buttons(
    tmp_path: Path,
) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=20, questions=(TERRACE, DEPOSIT))
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        asked = mention("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm")
        await rig.event(asked)
        await _confirm(rig, "C0PLANS", asked["ts"])
        first = await _question(rig, "which would you like?")
        assert first.args["thread_ts"] == asked["ts"]
        assert "<@U0ALICE>" in first.block_text or first.args.get("text", "").startswith(
            "<@U0ALICE>"
        )
        # Bob can't answer Alice's call; his button press changes nothing.
        refused = await rig.interaction(
            block_action(
                first.buttons["22:00 inside"],
                channel="C0PLANS",
                message_ts=first.ts,
                thread_ts=asked["ts"],
                user="U0BOB",
            )
        )
        assert refused.status_code == 200
        refusal = "Only the person who was asked"
        await rig.slack.wait_for(lambda: any(refusal in c.block_text for c in rig.slack.ephemerals))
        (told,) = [c for c in rig.slack.ephemerals if refusal in c.block_text]
        assert told.args["user"] == "U0BOB"  # Bob alone sees it
        assert not _with(rig, refusal)
        assert rig.calls.state.answers == []
        await rig.interaction(
            block_action(
                first.buttons["21:15 on the terrace"],
                channel="C0PLANS",
                message_ts=first.ts,
                thread_ts=asked["ts"],
            )
        )
        second = await _question(rig, "Is a deposit of $20 per person OK?")
        assert set(second.buttons) == {"Yes", "No"}  # a yes-or-no question
        await rig.interaction(
            block_action(
                second.buttons["Yes"],
                channel="C0PLANS",
                message_ts=second.ts,
                thread_ts=asked["ts"],
            )
        )
        sandbox = rig.calls.state
        await sandbox.wait_until_final(sandbox.call_list[0].call_id)
        await rig.slack.wait_for(
            lambda: any("Outcome:" in c.block_text for c in _card_versions(rig))
        )
        await rig.settle()
    assert [(a.answer, a.delivered) for a in sandbox.answers] == [
        ("21:15 on the terrace", True),
        ("yes", True),
    ]
    assert all(
        c.args.get("thread_ts") == asked["ts"]
        for c in _card_versions(rig)
        if c.method == "chat.postMessage"
    )
    # Each question was posted once.
    assert (
        len([c for c in _with(rig, "which would you like?") if c.method == "chat.postMessage"]) == 1
    )


async def test_an_answer_after_the_agent_moved_on_is_told_plainly(tmp_path: Path) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=0.3, turn_s=1.0)
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
        await _confirm(rig, "D0ALICE")
        await _question(rig, "the voice agent asks")
        sandbox = rig.calls.state
        call_id = sandbox.call_list[0].call_id

        def moved_on() -> bool:
            said = [
                e.data.get("text", "") for e in sandbox.events_of(call_id) if e.type == "transcript"
            ]
            return any("later" in line for line in said)

        await rig.slack.wait_for(moved_on, timeout_s=10)
        await rig.event(dm("22:00 inside"))
        await rig.slack.wait_for(
            lambda: bool(_with(rig, "moved on") or _with(rig, "too late")), timeout_s=10
        )
        await rig.settle()
    assert [(a.answer, a.delivered) for a in sandbox.answers] == [("22:00 inside", False)]
    assert _with(rig, "too late")
    assert _with(rig, "The call had moved on before your answer reached it")


async def test_cancel_call_stops_it_and_the_card_says_so(tmp_path: Path) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=30, dial_s=0.5)
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
        await _confirm(rig, "D0ALICE")
        await rig.slack.wait_for(lambda: bool(_card_versions(rig)))
        card = _card_versions(rig)[0]
        pressed = await rig.interaction(
            block_action(card.buttons["Cancel call"], channel="D0ALICE", message_ts=card.ts)
        )
        assert pressed.status_code == 200
        await rig.slack.wait_for(
            lambda: any("Call cancelled." in c.block_text for c in _card_versions(rig))
        )
        await rig.settle()
    assert rig.calls.state.call_list[0].status == "cancelled"
    assert _with(rig, "Cancelling the call to Nobu.")


async def test_numbers_are_checked_before_any_confirmation(tmp_path: Path) -> None:
    script: list[Any] = [
        call("start_call", target_phone="+1 900 555 1234", brief=BRIEF),
        "ok",
        call("start_call", target_phone="020 7946 0958", brief=BRIEF),
        "ok",
        call("start_call", target_phone="911", brief=BRIEF),
        "ok",
    ]
    model = ScriptedLLM(script)
    calls = CallAgentSandboxConfig.fast()
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        for text in ("call 1 900 555 1234", "call 020 7946 0958", "call 911"):
            await rig.event(dm(text))
            await rig.settle()
    errors = [
        json.loads(part.content)["error"]
        for request in model.requests
        for part in request.messages[-1].parts
        if isinstance(part, ToolResultPart) and part.is_error
    ]
    assert any("premium-rate" in e for e in errors)
    assert any("Which country" in e for e in errors)
    assert any("emergency" in e for e in errors)
    # No confirmation was ever shown, and nothing reached the call agent.
    assert not any(v.startswith("call.go:") for c in rig.slack.replies for v in c.buttons.values())
    assert rig.calls.state.start_requests == 0


async def test_a_refused_start_says_why_on_the_card(tmp_path: Path) -> None:
    for status, words in [
        (402, "out of credits"),
        (409, "another call on this account is still going"),
        (502, "couldn't be dialled"),
        (503, "maintenance"),
    ]:
        model = _model()
        calls = CallAgentSandboxConfig.fast(fail_start_with=status)
        db = sqlite_url(tmp_path / str(status))
        (tmp_path / str(status)).mkdir()
        async with running_slack(model, database_url=db, calls=calls) as rig:
            assert rig.calls is not None
            await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
            await _confirm(rig, "D0ALICE")
            await rig.slack.wait_for(
                lambda: any("Not placed" in c.block_text for c in _card_versions(rig))
            )
            await rig.settle()
        card = _card_versions(rig)[-1].block_text
        assert words in card, (status, card)
        assert rig.calls.state.start_requests == 1  # never retried by itself


async def test_a_dropped_stream_is_resumed_after_the_last_event_and_nothing_is_repeated(
    tmp_path: Path,
) -> None:
    model = _model()
    calls = CallAgentSandboxConfig.fast(
        answer_timeout_s=20, questions=(TERRACE, DEPOSIT), drop_stream_after_events=2
    )
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
        await _confirm(rig, "D0ALICE")
        await _question(rig, "which would you like?")
        await rig.event(dm("1"))
        await _question(rig, "Is a deposit")
        await rig.event(dm("yes, if it is refundable"))
        sandbox = rig.calls.state
        await sandbox.wait_until_final(sandbox.call_list[0].call_id)
        await rig.slack.wait_for(
            lambda: any("Outcome:" in c.block_text for c in _card_versions(rig))
        )
        await rig.settle()
    resumed = [after for _, after in sandbox.stream_resumes]
    assert len(resumed) > 3 and resumed[0] == 0
    assert all(b > a for a, b in itertools.pairwise(resumed))  # never back, never twice
    assert [a.answer for a in sandbox.answers] == [
        "21:15 on the terrace",
        "yes, if it is refundable",
    ]
    for words in ("which would you like?", "Is a deposit"):
        assert len([c for c in _with(rig, words) if c.method == "chat.postMessage"]) == 1
    assert len([c for c in _card_versions(rig) if "Outcome:" in c.block_text]) == 1


def _sign(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def test_the_backup_webhook_is_verified_and_asks_a_question_once(tmp_path: Path) -> None:
    """A question arriving both on the stream and by webhook is asked once; a forged, stale or
    malformed webhook gets 401 or 400 and posts nothing."""
    model = _model()
    calls = CallAgentSandboxConfig.fast(answer_timeout_s=20, allow_http_webhooks=True)
    async with running_slack(model, database_url=sqlite_url(tmp_path), calls=calls) as rig:
        assert rig.calls is not None
        secret = "whsec-test-secret"
        here = ConversationAddress("slack", "T0TEAM", "D0ALICE", "")
        hook_url = await seed_call_webhook(rig.services, here, rig.url, secret)
        # The sandbox posts every ask_user to the webhook too, signed with the secret.
        rig.calls.state.webhooks[DEFAULT_CALL_AGENT_KEY] = SandboxWebhook(hook_url, secret)
        await rig.event(dm("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"))
        await _confirm(rig, "D0ALICE")
        await _question(rig, "the voice agent asks")
        sandbox = rig.calls.state
        await rig.slack.wait_for(lambda: any(d.url == hook_url for d in sandbox.webhook_deliveries))
        call_id = sandbox.call_list[0].call_id
        posts_before = len(rig.slack.posts)
        extra = json.dumps(
            {
                "type": "ask_user",
                "call_id": call_id,
                "request_id": "req_extra",
                "question": "Any allergies?",
            }
        ).encode()
        forged = await rig.http.post(
            hook_url, content=extra, headers=_sign("not the secret", extra)
        )
        stale = await rig.http.post(
            hook_url,
            content=extra,
            headers={**_sign(secret, extra), "webhook-timestamp": str(int(time.time()) - 3600)},
        )
        unsigned = await rig.http.post(hook_url, content=extra)
        wrong_url = await rig.http.post(f"{hook_url}x", content=extra, headers=_sign(secret, extra))
        garbage = b"[1, 2"
        malformed = await rig.http.post(hook_url, content=garbage, headers=_sign(secret, garbage))
        assert [r.status_code for r in (forged, stale, unsigned, wrong_url, malformed)] == [
            401,
            401,
            401,
            404,
            400,
        ]
        assert len(rig.slack.posts) == posts_before
        # A genuine one the stream never carried is asked (the webhook is the backup).
        accepted = await rig.http.post(hook_url, content=extra, headers=_sign(secret, extra))
        assert accepted.status_code == 200, accepted.text
        await _question(rig, "Any allergies?")
        again = await rig.http.post(hook_url, content=extra, headers=_sign(secret, extra))
        assert again.status_code == 200
        await rig.event(dm("21:15 on the terrace"))
        await rig.slack.wait_for(lambda: bool(sandbox.answers))
        await rig.settle()
    deliveries = [d for d in sandbox.webhook_deliveries if d.url == hook_url]
    assert deliveries  # the stream's question also came by webhook…
    asked = [c for c in rig.slack.posts if "the voice agent asks" in c.block_text]
    assert len([c for c in asked if "which would you like?" in c.block_text]) == 1  # …asked once
    assert len([c for c in asked if "Any allergies?" in c.block_text]) == 1
