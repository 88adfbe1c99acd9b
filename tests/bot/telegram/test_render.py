"""The pure parts: Reply → Telegram HTML within Telegram's limits, the secret check, and
which Bot API failures are worth repeating."""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.telegram.application import retryable
from bot.telegram.render import (
    MAX_CAPTION,
    MAX_TEXT,
    render_reply,
    split_text,
    visible_length,
)
from bot.telegram.transport import check_secret, derived_secret, valid_secret
from conversations.replies import (
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Button,
    Reply,
    SessionLine,
    TicketLine,
)
from tests.bot.telegram.fake_telegram import visible_html


def names(user_id: str) -> str | None:
    return {"1001": "Alice <admin>"}.get(user_id)


def shown(markup: str) -> str:
    text, error = visible_html(markup)
    assert error is None, (error, markup)
    return text


def _card(number: int, **fields: object) -> ActivityCard:
    values: dict[str, object] = {
        "title": f"Late Set {number}",
        "image_url": f"https://example.test/{number}.jpg",
        "venue": "Bar",
        "when": "Fri 27 Nov, 19:00",
        "price_label": "$15",
        "why": "Jazz, late.",
        "buttons": (Button("Details", f"details:{number}"), Button("Book", f"book:{number}")),
    }
    return ActivityCard(number, **(values | fields))  # type: ignore[arg-type]


def test_a_page_of_results_is_one_album_and_one_list_with_every_button() -> None:
    more = Button("More (3)", "more")
    cards = (*(_card(n) for n in range(1, 5)), _card(5, image_url=None, buttons=()))
    page = Reply(text="5 ideas:", cards=cards, buttons=(more,), footer="Say `details <n>`.")
    album, listed = render_reply(page, names, group=False)
    assert [(p.url, p.caption) for p in album.album] == [
        (f"https://example.test/{n}.jpg", f"{n}. Late Set {n}") for n in range(1, 5)
    ]
    assert album.silent and not listed.silent and not listed.photo
    text = shown(listed.html)
    assert text.startswith("5 ideas:\n\n1. Late Set 1\nBar · Fri 27 Nov, 19:00 · $15\nJazz, late.")
    assert "5. Late Set 5" in text and text.endswith("Say details <n>.")
    labels = [[b.label for b in row] for row in listed.keyboard]
    assert labels == [[f"{n} · Details", f"{n} · Book"] for n in range(1, 5)] + [["More (3)"]]
    assert listed.keyboard[1][0].value == "details:2"
    (only_list,) = render_reply(Reply(cards=(_card(1, image_url=None),)), names, group=False)
    assert not only_list.album and not only_list.silent


def test_a_result_list_stays_within_the_limits_whatever_the_partner_sends() -> None:
    card = _card(
        1,
        title="<b>Jazz</b> & " + "Blues " * 30,
        venue="Bar <LunÀtico>",
        why="🎷 " * 700,
    )
    album, listed = render_reply(Reply(cards=(card,) * 10), names, group=False)
    (photo,) = {p.caption for p in album.album}
    assert shown(photo).startswith("1. <b>Jazz</b> & Blues")
    assert visible_length(shown(photo)) <= MAX_CAPTION
    text = shown(listed.html)
    assert visible_length(text) <= MAX_TEXT
    assert text.startswith("1. <b>Jazz</b> & Blues") and "Bar <LunÀtico>" in text
    assert "🎷 " * 70 not in text  # the why is clipped: Details has the rest


def test_long_text_splits_at_boundaries_and_an_endless_word_is_cut() -> None:
    pieces = split_text("word " * 2000)
    assert len(pieces) == 3 and all(visible_length(p) <= MAX_TEXT for p in pieces)
    assert all(not p.endswith(" ") and not p.startswith(" ") for p in pieces)
    endless = split_text("x" * 9000)
    assert [len(p) for p in endless] == [4000, 4000, 1000]
    emoji = split_text("😀" * 3000)  # two UTF-16 units each
    assert all(visible_length(p) <= MAX_TEXT for p in emoji) and len(emoji) == 2


def test_a_pending_approval_in_a_group_names_who_may_confirm() -> None:
    approval = ApprovalRequest(
        approval_id="a1",
        title="Book Late Set?",
        subject="Late Set",
        lines=("2 × General <GA> at $22.50", "Total: $45.00"),
        requester="1001",
        confirm=Button("Confirm", "approve:a1", "primary"),
        cancel=Button("Cancel", "reject:a1", "danger"),
    )
    reply = Reply(approval=approval, key="approval:a1", mention="1001")
    (group,) = render_reply(reply, names, group=True)
    assert group.html.startswith("<b>Book Late Set?</b>")  # no mention before the title
    assert 'Only <a href="tg://user?id=1001">Alice &lt;admin&gt;</a> can confirm.' in group.html
    assert "General &lt;GA&gt;" in group.html and not group.silent
    assert group.keyboard == ((approval.confirm, approval.cancel),)
    (private,) = render_reply(reply, names, group=False)
    assert "tg://user" not in private.html and "press Confirm" in private.html
    done = Reply(approval=ApprovalRequest(**{**approval.__dict__, "status": "granted"}))
    (confirmed,) = render_reply(done, names, group=True)
    assert (
        shown(confirmed.html).startswith("✅ Confirmed: booking Late Set\n2 × General <GA>")
        and "Total: $45.00" in shown(confirmed.html)
        and not confirmed.keyboard
    )


def test_a_detail_is_a_photo_when_it_fits_and_text_otherwise() -> None:
    tickets = tuple(TicketLine(f"Seat {n}", "$10.00", n % 2 == 0) for n in range(12))
    detail = ActivityDetail(
        title="Late Set",
        activity_id="a" * 32,
        image_url="https://example.test/p.jpg",
        venue="Bar",
        sessions=(SessionLine("Fri 27 Nov, 20:00", tickets[:2]),),
        buttons=(Button("Book", "book:x", "primary"),),
    )
    (short,) = render_reply(Reply(detail=detail), names, group=False)
    assert short.photo and "<i>sold out</i>" in short.html
    assert short.keyboard == ((detail.buttons[0],),) and not short.silent
    located = ActivityDetail(**{**detail.__dict__, "lat": 40.66, "lng": -73.97})
    (pinned,) = render_reply(Reply(detail=located), names, group=False)
    assert '📍 <a href="https://maps.google.com/?q=40.66,-73.97">Bar</a>' in pinned.html
    long = ActivityDetail(
        **{
            **detail.__dict__,
            "sessions": tuple(SessionLine(f"Day {n}", tickets) for n in range(10)),
        }
    )
    messages = render_reply(Reply(detail=long), names, group=False)
    assert all(m.photo is None for m in messages)
    assert messages[0].preview == detail.image_url  # the picture, as the text's link preview
    assert messages[-1].keyboard == ((detail.buttons[0],),)
    assert all(visible_length(shown(m.html)) <= MAX_TEXT for m in messages)


def test_reply_buttons_sit_under_the_text_or_the_footer() -> None:
    retry = Reply(text="The booking failed.", buttons=(Button("Retry", "retry:1", "primary"),))
    (message,) = render_reply(retry, names, group=False)
    assert message.keyboard == ((retry.buttons[0],),)
    choose = Reply(text="Which one?", footer="`x`", buttons=(Button("More (3)", "more"),))
    text, footer = render_reply(choose, names, group=False)
    assert footer.html == "<code>x</code>" and footer.keyboard == ((choose.buttons[0],),)
    assert not text.keyboard and not text.silent and footer.silent


def test_a_group_reply_is_addressed_on_a_line_of_its_own() -> None:
    booked = Reply(text="Booked: Late Set.", mention="1001")
    (message,) = render_reply(booked, names, group=True)
    assert message.html == '<a href="tg://user?id=1001">Alice &lt;admin&gt;</a>\nBooked: Late Set.'
    album, listed = render_reply(Reply(cards=(_card(1),), mention="1001"), names, group=True)
    assert not album.album[0].caption.startswith("<a") and listed.html.startswith("<a href")
    assert listed.html.split("\n", 1)[1].startswith("<b>1. Late Set 1</b>")
    (private,) = render_reply(booked, names, group=False)
    assert private.html == "Booked: Late Set."


@pytest.mark.parametrize(
    ("given", "expected", "status"),
    [
        ("abc-DEF_123", "abc-DEF_123", None),
        (None, "abc", 401),
        ("ab\u00e9", "abc", 401),
        ("a" * 257, "a" * 257, 401),
        ("abd", "abc", 403),
        ("abc", None, 403),
    ],
)
def test_the_secret_check(given: str | None, expected: str | None, status: int | None) -> None:
    assert check_secret(given, expected) == status


def test_a_derived_secret_is_stable_and_of_telegrams_shape() -> None:
    one = derived_secret("key", "1:token")
    assert one == derived_secret("key", "1:token") != derived_secret("other", "1:token")
    assert valid_secret(one)


def _network(cause: BaseException | None) -> NetworkError:
    error = TimedOut() if isinstance(cause, httpx.TimeoutException) else NetworkError("boom")
    error.__cause__ = cause
    return error


def test_only_sends_that_surely_did_not_land_are_repeated() -> None:
    refused = _network(httpx.ConnectError("refused"))
    lost = _network(httpx.ReadTimeout("slow"))
    gateway = _network(None)  # Telegram answered 5xx
    assert retryable(refused, "sendMessage") and retryable(gateway, "sendMessage")
    assert not retryable(lost, "sendMessage")
    assert retryable(lost, "editMessageText") and retryable(lost, "sendChatAction")
    assert not retryable(BadRequest("Message is too long"), "editMessageText")
    assert not retryable(refused, "getUpdates")
