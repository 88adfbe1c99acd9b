"""The core's seams for front-ends: streamed text, button presses, resuming after a crash,
and the outbox that delivers results arriving later."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from conversations import ConversationAddress, InboundMessage
from conversations.delivery import OutboxSender, enqueue
from conversations.llm import LLMRequest, LLMResponse, TextPart
from conversations.manager import new_event_id
from conversations.replies import BUTTON_EXPIRED, Replier, Reply
from conversations.types import ButtonPress
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM, ScriptedLLM, call


async def _streaming_model(request: LLMRequest) -> LLMResponse:
    assert request.on_text is not None
    for delta in ("Two ", "late ", "sets."):
        await request.on_text(delta)
    return LLMResponse((TextPart("Two late sets."),))


async def test_text_is_streamed_where_the_platform_can(harness: Harness) -> None:
    chat = RecordingReplier(streaming=True)
    await harness.say(harness.manager(FunctionLLM(_streaming_model)), "hi there", replier=chat)
    (stream,) = chat.streams
    assert stream.deltas == ["Two ", "late ", "sets."] and stream.closed
    assert chat.replies == []  # not posted a second time


async def test_text_is_posted_once_where_it_cannot(harness: Harness) -> None:
    chat = await harness.say(harness.manager(FunctionLLM(_streaming_model)), "hi there")
    assert chat.texts == ["Two late sets."] and chat.streams == []


async def test_buttons_run_code_not_the_model(harness: Harness) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "Here."])
    manager = harness.manager(model)
    chat = await harness.say(manager, "jazz")
    first_card = chat.replies[-1].cards[0]
    asked = len(model.requests)

    async def press(value: str) -> RecordingReplier:
        pressed = RecordingReplier()
        await manager.handle(ButtonPress(HERE, ALICE, value, new_event_id()), pressed)
        return pressed

    details = await press(first_card.buttons[0].value)
    assert details.replies[0].detail is not None
    assert details.replies[0].detail.title == first_card.title
    more = await press("more")
    assert more.replies[0].text == "More ideas:" and more.replies[0].cards[0].number == 6
    # The cards of "More" come back from the stored results with their buttons.
    for card in more.replies[0].cards:
        assert card.buttons and card.buttons[0].value == f"details:{card.activity_id}"
    for bogus in ("launch:missiles", "details:not-a-uuid", "x" * 500):
        (told,) = (await press(bogus)).replies
        assert told.text == BUTTON_EXPIRED.text and told.private_to == ALICE.user_id
    assert len(model.requests) == asked  # no press reached the model


async def test_work_accepted_before_a_crash_is_resumed_once(harness: Harness) -> None:
    crashed = harness.manager(ScriptedLLM([]))
    message = InboundMessage(HERE, ALICE, "anyone there?", new_event_id())
    assert await crashed.accept(message)  # accepted (acked), then the process died
    assert not await crashed.accept(message)  # a redelivery is still a duplicate

    restarted = harness.manager(ScriptedLLM(["Hello again!"]))
    chat = RecordingReplier()
    boot = datetime.now(UTC)
    assert await restarted.resume_unfinished(lambda address: chat, accepted_before=boot) == 1
    assert chat.texts == ["Hello again!"]
    assert await restarted.resume_unfinished(lambda address: chat, accepted_before=boot) == 0


class FlakyOutlet:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.chat = RecordingReplier()

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self if address.platform == "console" else None  # type: ignore[return-value]

    async def send(self, reply: Reply) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("platform down")
        await self.chat.send(reply)


async def test_outbox_retries_until_delivered_and_never_twice(harness: Harness) -> None:
    async with harness.db.session() as session:
        assert await enqueue(session, HERE, Reply(text="Booked!"), dedupe_key="b1:confirmed")
        assert not await enqueue(session, HERE, Reply(text="Booked!"), dedupe_key="b1:confirmed")
    now = datetime.now(UTC) + timedelta(seconds=1)
    outlet = FlakyOutlet(failures=1)
    sender = OutboxSender(harness.db, {"console": outlet}, clock=lambda: now)
    assert await sender.deliver_due() == 0  # the platform failed; retried later
    assert await sender.deliver_due() == 0  # not due yet
    now += timedelta(minutes=5)
    assert await sender.deliver_due() == 1
    assert await sender.deliver_due() == 0
    assert outlet.chat.texts == ["Booked!"]


class SlowDown(Exception):
    """A platform's 429 with how long to wait (`Retry-After`)."""

    retry_after = 120.0


class SlowOutlet(FlakyOutlet):
    async def send(self, reply: Reply) -> None:
        if self.failures:
            self.failures -= 1
            raise SlowDown("slow down")
        await self.chat.send(reply)


async def test_outbox_waits_as_long_as_the_platform_asks(harness: Harness) -> None:
    async with harness.db.session() as session:
        assert await enqueue(session, HERE, Reply(text="Booked!"), dedupe_key="b2:confirmed")
    now = datetime.now(UTC) + timedelta(seconds=1)
    outlet = SlowOutlet(failures=1)
    sender = OutboxSender(harness.db, {"console": outlet}, clock=lambda: now)
    assert await sender.deliver_due() == 0
    now += timedelta(seconds=110)
    assert await sender.deliver_due() == 0  # a backoff alone would be due by now
    now += timedelta(seconds=11)
    assert await sender.deliver_due() == 1
    assert outlet.chat.texts == ["Booked!"]


class GatedOutlet:
    """Holds every post to `held` until released; records the order posts were made in."""

    def __init__(self, held: str) -> None:
        self.held, self.release = held, asyncio.Event()
        self.posted: list[str] = []

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        outlet = self

        class Post:
            async def send(self, reply: Reply) -> None:
                if address.chat_id == outlet.held:
                    await outlet.release.wait()
                outlet.posted.append(reply.text)

        return Post()  # type: ignore[return-value]


async def test_outbox_posts_conversations_side_by_side_and_each_in_order(
    harness: Harness,
) -> None:
    slow, quick = HERE, ConversationAddress("console", "W1", "C2", "")
    async with harness.db.session() as session:
        for n in (1, 2):
            await enqueue(session, slow, Reply(text=f"slow {n}"), dedupe_key=f"s{n}")
        await enqueue(session, quick, Reply(text="quick"), dedupe_key="q")
    outlet = GatedOutlet(held=slow.chat_id)
    sender = OutboxSender(harness.db, {"console": outlet})
    delivering = asyncio.create_task(sender.deliver_due())
    for _ in range(200):  # the quick conversation does not wait behind the slow one
        if outlet.posted:
            break
        await asyncio.sleep(0.01)
    assert outlet.posted == ["quick"]
    outlet.release.set()
    assert await delivering == 3
    assert outlet.posted == ["quick", "slow 1", "slow 2"]


async def test_a_delivery_pass_returns_only_once_the_one_under_way_has_posted(
    harness: Harness,
) -> None:
    """The background loop is posting when the demo (or a test) asks for what is due: the
    answer comes once that post is made, so nothing due is still on its way."""
    async with harness.db.session() as session:
        await enqueue(session, HERE, Reply(text="Booked!"), dedupe_key="b3:confirmed")
    outlet = GatedOutlet(held=HERE.chat_id)
    sender = OutboxSender(harness.db, {"console": outlet})
    background = asyncio.create_task(sender.deliver_due())  # claims the row, then waits
    await asyncio.sleep(0.1)
    asked = asyncio.create_task(sender.deliver_due())
    await asyncio.sleep(0.1)
    assert not asked.done() and outlet.posted == []
    outlet.release.set()
    assert await asked == 0 and await background == 1
    assert outlet.posted == ["Booked!"]
