"""/start and /help in Telegram: the welcome, with buttons that say their text."""

from __future__ import annotations

import pytest

from tests.bot.telegram.harness import (
    ALICE,
    TelegramRig,
    callback_query,
    message,
    update,
)

ALICE_CHAT = int(ALICE["id"])


@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_and_help_are_the_welcome(rig: TelegramRig, command: str) -> None:
    await rig.deliver(update(message(command)))
    await rig.settle()
    (welcome,) = rig.telegram.sent(ALICE_CHAT)
    assert "Hi! I&#x27;m the concierge." in welcome.text and "offline mode" in welcome.text
    assert "Find things to do and book tickets (Outgoing)" in welcome.text
    assert "Whoever runs this concierge can connect them" in welcome.text
    labels = [b["text"] for b in welcome.buttons]
    assert "Jazz in Brooklyn tonight" in labels and "What's running" in labels
    assert not any("Le Bernardin" in label for label in labels)  # Onegent is not set up


async def test_a_welcome_button_runs_its_search(rig: TelegramRig) -> None:
    await rig.deliver(update(message("/start")))
    await rig.settle()
    (welcome,) = rig.telegram.sent(ALICE_CHAT)
    token = welcome.callback_data("Jazz in Brooklyn tonight")
    assert "try" not in token
    await rig.deliver(callback_query(token, on=welcome.params["_message_id"], chat=ALICE_CHAT))
    await rig.telegram.wait_for(
        lambda: any("Brooklyn" in t and "jazz" in t for t in rig.telegram.texts(ALICE_CHAT)[1:])
    )
    await rig.settle()
