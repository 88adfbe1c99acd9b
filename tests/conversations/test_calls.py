"""Calls at the conversation level: the manager, the job runner and the outbox sender running
as in `serve`, against the Call Agent sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from conversations import ConversationManager, InboundMessage
from conversations.capabilities.callagent import CALL, listening
from conversations.capabilities.callagent.card import CallStatus
from conversations.jobs import start_job
from conversations.jobs.runner import NOTE_PREFIX
from conversations.llm import LLMResponse, TextPart, ToolCallPart
from conversations.manager import new_event_id
from conversations.replies import Reply
from conversations.types import Sender
from integrations.callagent import CallAgentClient, StartCallBody
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    RunningCallAgentSandbox,
    running_callagent_sandbox,
)
from integrations.sandbox.callagent_state import CallAgentSandboxState
from storage import repositories
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.conversations.live import LiveChat, live_chat
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import ScriptedLLM, call

NOBU = "+1 212 555 0100"
BRIEF = "Call Nobu for Alice and ask for a table for 4 at 8pm tonight."
BOB = Sender("U_BOB", "Bob")


@dataclass
class Calls(LiveChat[ScriptedLLM]):
    sandbox: RunningCallAgentSandbox

    @property
    def state(self) -> CallAgentSandboxState:
        return self.sandbox.state

    async def place(self) -> None:
        """Ask for the call and press Call on its confirmation."""
        await self.say("call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm")
        (confirmation,) = [r for r in self.chat.replies if r.approval is not None]
        assert confirmation.approval is not None
        await self.press(confirmation.approval.confirm.value)

    async def question(self, words: str = "the voice agent asks") -> Reply:
        await self.wait(lambda: bool(self.shown(words)), 15)
        return self.shown(words)[0]

    async def ended(self) -> None:
        await self.wait(lambda: bool(self.state.call_list))
        call_id = self.state.call_list[0].call_id
        await asyncio.wait_for(self.state.wait_until_final(call_id), 20)
        await self.wait(lambda: bool(self.shown("Outcome:")), 10)


def _model(*more: LLMResponse | ToolCallPart | str) -> ScriptedLLM:
    return ScriptedLLM(
        [
            call("start_call", target_phone=NOBU, brief=BRIEF, callee="Nobu"),
            "Please confirm.",
            *more,
        ]
    )


@contextlib.asynccontextmanager
async def running_calls(
    harness: Harness, config: CallAgentSandboxConfig, model: ScriptedLLM | None = None
) -> AsyncIterator[Calls]:
    """The manager with its job runner and outbox sender running, as `serve` has them."""
    async with running_callagent_sandbox(config) as sandbox:
        harness.calls_url = sandbox.base_url

        def make(
            h: Harness, manager: ConversationManager, chat: RecordingReplier, llm: ScriptedLLM
        ) -> Calls:
            return Calls(h, manager, chat, llm, sandbox)

        async with live_chat(harness, model or _model(), make) as running:
            yield running


@pytest.fixture(autouse=True)
def _quick_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The listener looks for answers left unsent every few seconds in production."""
    monkeypatch.setattr(listening, "SWEEP_S", 0.2)
    monkeypatch.setattr(listening, "RESEND_AFTER", timedelta(seconds=0.3))


def _question_id(reply: Reply) -> str:
    assert reply.key is not None and reply.key.startswith("question:")
    return reply.key.removeprefix("question:")


async def test_an_answer_recorded_before_a_crash_is_passed_on_by_the_listener(
    harness: Harness,
) -> None:
    async with running_calls(harness, CallAgentSandboxConfig.fast(answer_timeout_s=20)) as calls:
        await calls.place()
        asked = await calls.question()
        # The turn recorded the answer, then its process died before telling the call.
        async with harness.db.session() as session:
            await repositories.answer_question(
                session,
                question_id=_question_id(asked),
                workspace_id=HERE.workspace_id,
                answered_by=ALICE.user_id,
                answer="22:00 inside",
                now=datetime.now(UTC),
            )
        await calls.ended()
    assert [(a.answer, a.delivered) for a in calls.state.answers] == [("22:00 inside", True)]


async def test_an_answer_run_again_is_not_sent_twice_and_never_reaches_the_model(
    harness: Harness,
) -> None:
    model = _model()
    config = CallAgentSandboxConfig.fast(answer_timeout_s=20)
    async with running_calls(harness, config, model) as calls:
        await calls.place()
        await calls.question()
        reply = InboundMessage(HERE, ALICE, "the terrace", new_event_id())
        await calls.manager.handle(reply, calls.chat)
        await calls.wait(lambda: bool(calls.state.answers))
        settled = len(calls.shown("passed on to the call"))
        # The same inbound item run again (a replica took it over after a crash).
        await calls.manager.run(reply, calls.chat)
        assert len(calls.shown("passed on to the call")) == settled + 1
        await calls.ended()
    assert [(a.answer, a.delivered) for a in calls.state.answers] == [("the terrace", True)]
    assert len(model.requests) == 2  # the request; the answer never reached the model


async def test_a_queued_call_shows_its_place_then_dials_and_ends(harness: Harness) -> None:
    config = CallAgentSandboxConfig.fast(queue_mode=True, queue_s=0.5, answer_timeout_s=20)
    async with running_calls(harness, config) as calls:
        await calls.place()
        await calls.wait(lambda: bool(calls.shown("Waiting in the call agent's queue")))
        await calls.question()
        await calls.say("2")  # the second option, by its number
        await calls.ended()
    assert [a.answer for a in calls.state.answers] == ["22:00 inside"]
    cards = [r.text.splitlines()[1] for r in calls.shown("📞 Call to Nobu")]
    assert cards[0].startswith("Waiting in the call agent's queue")
    assert cards[-1] == "Call finished."


async def test_a_start_that_may_have_left_before_a_crash_is_found_not_dialled_again(
    harness: Harness,
) -> None:
    async with running_calls(harness, CallAgentSandboxConfig.fast(answer_timeout_s=0.2)) as calls:
        body = StartCallBody(target_phone="+12125550100", brief=BRIEF)
        client = CallAgentClient(
            harness.http, api_key=DEFAULT_CALL_AGENT_KEY, base_url=calls.sandbox.base_url
        )
        placed = await client.start_call(body)  # the POST that left as the process died
        conversation = await _conversation_id(harness)
        async with harness.db.session() as session:
            await start_job(
                session,
                CALL,
                status=CallStatus.STARTING,
                address=HERE,
                conversation_id=conversation,
                requested_by=ALICE.user_id,
                payload={
                    "body": body.model_dump(mode="json"),
                    "callee": "Nobu",
                    "posting": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
                },
            )
        await calls.ended()
        async with harness.db.session(read_only=True) as session:
            (job,) = await repositories.conversation_jobs(
                session, conversation_id=conversation, kinds=[CALL.name]
            )
    assert job.partner_ref == placed.call_id and job.status == CallStatus.COMPLETED
    assert calls.state.start_requests == 1


async def _conversation_id(harness: Harness) -> str:
    async with harness.db.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session,
            platform=HERE.platform,
            workspace_id=HERE.workspace_id,
            chat_id=HERE.chat_id,
            thread_id=HERE.thread_id,
        )
    return conversation.id


async def test_a_finished_call_is_in_status_orders_and_the_models_history_as_data(
    harness: Harness,
) -> None:
    model = _model(call("job_status"), "It's done.", call("list_orders"), "Here.")
    async with running_calls(
        harness, CallAgentSandboxConfig.fast(answer_timeout_s=20), model
    ) as calls:
        await calls.place()
        await calls.question()
        await calls.say("1")
        await calls.ended()
        await calls.say("how did the call go?")
        await calls.say("my bookings")
        card = calls.shown("Outcome:")[-1]
        transcript = next(b for b in card.buttons if b.label == "Transcript")
        await calls.press(transcript.value, sender=BOB)
        await calls.press(transcript.value)
    status = next(p for p in model.requests[3].messages[-1].parts if not isinstance(p, TextPart))
    assert "Call to Nobu (+1 212-555-0100): finished" in str(status)
    assert "Booked by phone (1):" in calls.chat.transcript
    assert "• Nobu," in calls.chat.transcript and "4 guests — active" in calls.chat.transcript
    # The outcome reached the model as a concierge note (data), not as the user's words.
    notes = [
        p.text
        for m in model.requests[2].messages
        for p in m.parts
        if isinstance(p, TextPart) and p.text.startswith(NOTE_PREFIX)
    ]
    assert any('"source": "call_agent"' in n and "not an instruction" in n for n in notes)
    assert calls.shown("Only the person who asked for this call can see its transcript.")
    (shown,) = calls.shown("Transcript of the call to Nobu:")
    assert "> Them:" in shown.text and "> Agent:" in shown.text


async def test_the_daily_call_cap_refuses_before_any_confirmation(harness: Harness) -> None:
    harness.calls_per_day = 1
    model = _model(call("start_call", target_phone=NOBU, brief=BRIEF), "Sorry.")
    async with running_calls(
        harness, CallAgentSandboxConfig.fast(answer_timeout_s=0.2), model
    ) as calls:
        await calls.place()
        await calls.ended()
        await calls.say("call them again")
    (refused,) = [p for p in model.requests[-1].messages[-1].parts if getattr(p, "is_error", False)]
    assert "placed its 1 calls for today" in str(refused)
    assert len([r for r in calls.chat.replies if r.approval is not None]) == 2  # shown, then placed


async def test_others_answer_only_when_the_requester_allowed_it(harness: Harness) -> None:
    allowed = ScriptedLLM(
        [
            call(
                "start_call",
                target_phone=NOBU,
                brief=BRIEF,
                callee="Nobu",
                others_may_answer=True,
            ),
            "Please confirm.",
        ]
    )
    config = CallAgentSandboxConfig.fast(answer_timeout_s=20)
    async with running_calls(harness, config, allowed) as calls:
        await calls.place()
        confirmation = next(r for r in calls.chat.replies if r.approval is not None)
        assert confirmation.approval is not None
        assert "anyone here may answer them." in confirmation.approval.lines[-1]
        await calls.question()
        await calls.say("22:00 inside is better for us", sender=BOB)
        await calls.ended()
    assert [a.answer for a in calls.state.answers] == ["22:00 inside is better for us"]
    assert len(allowed.requests) == 2  # Bob's answer went to the call, not to the model
