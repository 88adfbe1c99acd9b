"""One answer, one notification: what a search, its More and its Details cost a chat in
messages (a group may receive 20 a minute) and in buzzing phones, through the real
python-telegram-bot app, the Outgoing sandbox and the fake Bot API.

A "message" is one send call (an album is one); edits and deletions are free."""

from __future__ import annotations

from integrations.sandbox import ForcedResponse
from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call, visible_html
from tests.bot.telegram.harness import (
    ALICE,
    FORUM,
    TOPIC,
    TelegramRig,
    callback_query,
    message,
    update,
)

ALICE_CHAT = int(ALICE["id"])


def _since(rig: TelegramRig, mark: int, chat: int) -> list[Call]:
    """The sends to `chat` after the first `mark` calls."""
    return [c for c in rig.telegram.sent(chat) if rig.telegram.calls.index(c) >= mark]


def _listed(sends: list[Call]) -> Call:
    """The list message of a page of results: the send with the buttons."""
    (listed,) = [c for c in sends if c.buttons]
    return listed


async def _no_done_lines(rig: TelegramRig, chat: int) -> None:
    """Once the answer is in, no status line stays: neither "⏳ …" nor "✓ … done"."""

    def lines() -> list[str]:
        shown = rig.telegram.final_texts(chat)
        return [t for t in shown if t.startswith(("✓", "⏳")) or " done" in t]

    await rig.telegram.wait_for(lambda: not lines())
    assert rig.telegram.final_texts(chat)


async def _search(rig: TelegramRig, text: str, chat: int, thread: int | None = None) -> list[Call]:
    mark = len(rig.telegram.calls)
    await rig.deliver(update(message(text, chat=chat, thread=thread)))
    await rig.results(chat)
    return _since(rig, mark, chat)


async def _press(rig: TelegramRig, on: Call, label: str, chat: int) -> list[Call]:
    mark = len(rig.telegram.calls)
    pressed = callback_query(on.callback_data(label), on=on.params["_message_id"], chat=chat)
    await rig.deliver(pressed)
    return _since(rig, mark, chat)


async def test_five_results_in_a_private_chat_are_three_messages_and_one_notification(
    rig: TelegramRig,
) -> None:
    sends = await _search(rig, "search jazz in Brooklyn", ALICE_CHAT)
    status, album, listed = sends
    assert status.text.startswith("⏳ Searching for jazz") and status.silent
    assert album.method == "sendMediaGroup" and album.silent
    assert album.text.splitlines() == [
        "1. Celebrate Brooklyn! Jazz in Prospect Park",
        "2. Late Set: Brooklyn Jazz Quartet",
        "3. Jazz Brunch Trio at Ornithology",
        "4. Roulette Jazz Series: Avant-Garde Trio",
        "5. Brooklyn Big Band Jazz Night",
    ]
    assert rig.telegram.notifying(ALICE_CHAT) == [listed]
    assert listed.text.startswith("6 ideas for jazz in Brooklyn:\n\n<b>1. Celebrate Brooklyn!")
    assert "</b>\nLena Horne Bandshell · " in listed.text
    assert [b["text"] for b in listed.buttons] == [
        *(f"{n} · {label}" for n in range(1, 6) for label in ("Details", "Book")),
        "More (1)",
    ]
    # The status line gave way to the results: deleted, not left as "✓ … done".
    await _no_done_lines(rig, ALICE_CHAT)
    (deleted,) = rig.telegram.called("deleteMessage")
    assert int(deleted.params["message_id"]) == status.params["_message_id"]


async def test_five_results_in_a_forum_topic_stay_in_the_topic_with_one_notification(
    rig: TelegramRig,
) -> None:
    asked = f"@{BOT_USERNAME} search jazz in Brooklyn"
    sends = await _search(rig, asked, FORUM, thread=TOPIC)
    assert [c.method for c in sends] == ["sendMessage", "sendMediaGroup", "sendMessage"]
    assert all(c.thread_id == TOPIC and c.reply_to is not None for c in sends)
    assert [c.silent for c in sends] == [True, True, False]
    await _no_done_lines(rig, FORUM)


async def test_more_is_two_messages_and_details_one_without_a_venue_pin(
    rig: TelegramRig,
) -> None:
    listed = _listed(await _search(rig, "search jazz in Brooklyn", ALICE_CHAT))
    more = await _press(rig, listed, "More (1)", ALICE_CHAT)
    assert [c.method for c in more] == ["sendPhoto", "sendMessage"]  # one picture: no album
    assert [c.silent for c in more] == [True, False]
    assert "<b>6. Midnight Jazz Jam Session</b>" in more[1].text

    # Details of result 2, pressed on the first page's list.
    details = await _press(rig, listed, "2 · Details", ALICE_CHAT)
    status, detail = details  # "Checking live prices…", then the one answer
    assert status.text == "⏳ Checking live prices…" and status.silent
    assert detail.method == "sendPhoto" and not detail.silent
    assert detail.text.startswith("<b>Late Set: Brooklyn Jazz Quartet</b>")
    assert "Sessions and tickets" in detail.text
    assert '📍 <a href="https://maps.google.com/?q=' in detail.text
    assert [b["text"] for b in detail.buttons] == ["Book"]
    assert detail.reply_to == listed.params["_message_id"]
    assert not rig.telegram.called("sendVenue")
    await _no_done_lines(rig, ALICE_CHAT)


async def test_pictures_telegram_refuses_still_give_the_results(rig: TelegramRig) -> None:
    rig.telegram.refuse_photos = True
    sends = await _search(rig, "search jazz in Brooklyn", ALICE_CHAT)
    assert [c.method for c in sends] == ["sendMessage", "sendMessage"]
    listed = _listed(sends)
    assert "<b>1. Celebrate Brooklyn! Jazz in Prospect Park</b>" in listed.text
    assert rig.telegram.notifying(ALICE_CHAT) == [listed]
    detail = await _press(rig, listed, "1 · Details", ALICE_CHAT)
    assert detail[-1].method == "sendMessage" and "Sessions and tickets" in detail[-1].text


async def test_partner_markup_in_results_is_shown_literally(rig: TelegramRig) -> None:
    hostile = {
        "name": "<b>Jazz</b> & Blues",
        "venue": "Bar & <Grill>",
        "why": "Because <i>you</i> & me",
        "picture_url": "https://img.example/jazz.jpg",
    }
    others = [
        {"name": f"Set {n}", "picture_url": f"https://img.example/{n}.jpg"} for n in range(2, 6)
    ]
    rig.sandbox.state.force(
        ForcedResponse(
            "/partner/v1/search",
            status=200,
            body={"message": "ok", "results": [hostile, *others]},
        )
    )
    _, album, listed = await _search(rig, "search jazz in Brooklyn", ALICE_CHAT)
    captions = [visible_html(str(m["caption"])) for m in album.params["media"]]
    assert captions[0] == ("1. <b>Jazz</b> & Blues", None)
    shown, error = visible_html(listed.text)
    assert error is None
    assert "1. <b>Jazz</b> & Blues\nBar & <Grill>\nBecause <i>you</i> & me" in shown
