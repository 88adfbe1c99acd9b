"""A Telegram user's `language_code` shapes the amounts they read, also in results a
search job posts later, and never reaches the partner."""

from __future__ import annotations

import re

from tests.bot.telegram.harness import ALICE, TelegramRig, message, update

GERMAN_ALICE = {**ALICE, "language_code": "de"}


async def test_a_german_telegram_user_reads_prices_their_way(rig: TelegramRig) -> None:
    chat = int(ALICE["id"])
    await rig.deliver(update(message("search jazz in Brooklyn", user=GERMAN_ALICE)))
    await rig.results(chat)
    (listed,) = [c for c in rig.telegram.sent(chat) if c.buttons]
    ours = [line for line in listed.text.splitlines() if " · " in line]  # not the partner's words
    assert ours and all(re.search(r"\d,\d\d\xa0\$", line) for line in ours), ours
    assert not any(re.search(r"\$\d", line) for line in ours)
    sent_to_partner = [str(e.body) for e in rig.sandbox.state.journal if e.body]
    assert sent_to_partner and not any("language" in b or "locale" in b for b in sent_to_partner)


async def test_without_a_language_code_prices_read_in_us_english(rig: TelegramRig) -> None:
    chat = int(ALICE["id"])
    await rig.deliver(update(message("search jazz in Brooklyn")))
    await rig.results(chat)
    (listed,) = [c for c in rig.telegram.sent(chat) if c.buttons]
    ours = [line for line in listed.text.splitlines() if " · " in line]
    assert ours and all(re.search(r"\$\d+\.\d\d", line) for line in ours), ours
