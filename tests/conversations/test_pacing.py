"""A few turns do their own work at once, and a turn waiting on the model lets another
conversation go first: one slow model call never holds up anyone else."""

from __future__ import annotations

import asyncio

from conversations import ConversationAddress, Sender
from conversations.llm import LLMRequest, LLMResponse, TextPart
from conversations.manager import ManagerConfig
from conversations.pacing import TurnGate
from tests.conversations.conftest import HERE, Harness

ELSEWHERE = ConversationAddress("console", "W1", "C_OTHER", "")
BOB = Sender("U_BOB", "Bob")


class SlowForOne:
    """Answers at once, except a message saying "slow", which waits for `release`."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        if "slow" in str(request.messages[-1]):
            self.waiting.set()
            await self.release.wait()
            return LLMResponse((TextPart("that took a while"),))
        return LLMResponse((TextPart("at once"),))


async def test_a_turn_waiting_on_the_model_does_not_hold_up_another_conversation(
    harness: Harness,
) -> None:
    harness.config = ManagerConfig(parallel_turns=1)
    model = SlowForOne()
    manager = harness.manager(model)
    slow = asyncio.ensure_future(harness.say(manager, "slow please", address=HERE))
    await asyncio.wait_for(model.waiting.wait(), 5)
    quick = await asyncio.wait_for(
        harness.say(manager, "anything", address=ELSEWHERE, sender=BOB), 5
    )
    assert quick.texts == ["at once"] and not slow.done()
    model.release.set()
    assert (await asyncio.wait_for(slow, 5)).texts == ["that took a while"]


async def _held_for(gate: TurnGate, inside: list[str], name: str, leave: asyncio.Event) -> None:
    async with gate.held():
        inside.append(name)
        await leave.wait()
        inside.remove(name)


async def test_a_released_place_goes_to_the_next_turn_and_comes_back_after_it() -> None:
    gate = TurnGate(1)
    inside: list[str] = []
    waiting_done, other_leaves = asyncio.Event(), asyncio.Event()

    async def waits_on_the_model() -> None:
        async with gate.held():
            inside.append("first")
            async with gate.released():
                inside.remove("first")
                await waiting_done.wait()
            inside.append("first again")  # only once the other turn has left
            assert inside == ["first again"]
            inside.remove("first again")

    first = asyncio.ensure_future(waits_on_the_model())
    await asyncio.sleep(0.01)
    other = asyncio.ensure_future(_held_for(gate, inside, "other", other_leaves))
    await asyncio.sleep(0.01)
    assert inside == ["other"]  # the waiting turn gave its place up
    waiting_done.set()
    await asyncio.sleep(0.01)
    assert inside == ["other"]  # and waits for it back
    other_leaves.set()
    await asyncio.wait_for(asyncio.gather(first, other), 5)


async def test_a_task_started_by_a_turn_cannot_give_the_turns_place_away() -> None:
    gate = TurnGate(1)
    inside: list[str] = []
    leave = asyncio.Event()

    async def child() -> None:
        async with gate.released():  # not the child's place: nothing is released
            await asyncio.sleep(0.05)

    async def turn() -> None:
        async with gate.held():
            inside.append("turn")
            await asyncio.ensure_future(child())
            await leave.wait()
            inside.remove("turn")

    holder = asyncio.ensure_future(turn())
    await asyncio.sleep(0.01)
    other = asyncio.ensure_future(_held_for(gate, inside, "other", leave))
    await asyncio.sleep(0.1)
    assert inside == ["turn"]
    leave.set()
    await asyncio.wait_for(asyncio.gather(holder, other), 5)


async def test_a_turn_cancelled_while_it_waits_for_its_place_back_leaks_no_place() -> None:
    gate = TurnGate(1)
    inside: list[str] = []
    leave = asyncio.Event()
    in_release = asyncio.Event()

    async def cancelled_turn() -> None:
        async with gate.held(), gate.released():
            in_release.set()
            await asyncio.sleep(0.05)  # meanwhile another turn takes the place

    doomed = asyncio.ensure_future(cancelled_turn())
    await in_release.wait()
    other = asyncio.ensure_future(_held_for(gate, inside, "other", leave))
    await asyncio.sleep(0.1)  # the doomed turn now waits for its place back
    doomed.cancel()
    await asyncio.gather(doomed, return_exceptions=True)
    third = asyncio.ensure_future(_held_for(gate, inside, "third", leave))
    await asyncio.sleep(0.05)
    assert inside == ["other"]  # still one place: the cancelled turn gave back nothing extra
    leave.set()
    await asyncio.wait_for(asyncio.gather(other, third), 5)
    fourth_leave = asyncio.Event()
    a = asyncio.ensure_future(_held_for(gate, inside, "a", fourth_leave))
    b = asyncio.ensure_future(_held_for(gate, inside, "b", fourth_leave))
    await asyncio.sleep(0.05)
    assert len(inside) == 1
    fourth_leave.set()
    await asyncio.wait_for(asyncio.gather(a, b), 5)
