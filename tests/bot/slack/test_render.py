"""Reply → Block Kit: escaping, Slack's limits, paging into several messages, button ids."""

from __future__ import annotations

import json

from bot.slack.render import (
    MAX_BLOCKS,
    neutralise_markdown,
    render_reply,
    render_status,
)
from conversations.replies import (
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Button,
    Progress,
    Reply,
    SessionLine,
    TicketLine,
)

HOSTILE = "<!channel> Rock & Roll <https://evil.example|click> <@U0ADMIN> *bold*"


def _card(n: int, **overrides: object) -> ActivityCard:
    fields: dict[str, object] = {
        "number": n,
        "title": f"Show {n}",
        "activity_id": f"{n:032x}",
        "image_url": f"https://img.example/{n}.jpg",
        "venue": "Bar LunÀtico",
        "when": "Fri 27 Nov, 21:00",
        "price_label": "$15–$25",
        "why": "Late set, small room",
        "buttons": (Button("Details", f"details:{n:032x}"), Button("Book", f"book:{n}", "primary")),
    }
    fields.update(overrides)
    return ActivityCard(**fields)  # type: ignore[arg-type]


def _all_text(blocks: object) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_partner_text_is_escaped_for_mrkdwn_and_model_text_is_neutralised() -> None:
    reply = Reply(text=HOSTILE, cards=(_card(1, title=HOSTILE, why=HOSTILE),))
    (message,) = render_reply(reply)
    markdown, section = message.blocks[0], message.blocks[1]
    assert markdown["type"] == "markdown"
    assert markdown["text"] == (
        "\\<!channel> Rock & Roll \\<https://evil.example|click> \\<@U0ADMIN> *bold*"
    )
    card_text = section["text"]["text"]
    assert "&lt;!channel&gt; Rock &amp; Roll &lt;https://evil.example|click&gt;" in card_text
    assert "<!" not in card_text and "<@" not in card_text and "<h" not in card_text
    assert "<!channel>" not in message.text and "&lt;!channel&gt;" in message.text


def test_markdown_neutralising_leaves_ordinary_text_alone() -> None:
    assert neutralise_markdown("a < b & c > d, <3 **ok**") == "a < b & c > d, \\<3 **ok**"


def test_cards_have_image_facts_why_and_uniquely_numbered_buttons() -> None:
    reply = Reply(
        text="3 ideas:",
        cards=tuple(_card(n) for n in (1, 2, 3)),
        buttons=(Button("More (4)", "more"),),
        footer="Say `details <n>` for sessions and prices.",
    )
    (message,) = render_reply(reply)
    kinds = [b["type"] for b in message.blocks]
    assert kinds == [
        "markdown",
        "section",
        "actions",
        "divider",
        "section",
        "actions",
        "divider",
        "section",
        "actions",
        "context",
        "actions",
    ]
    first = message.blocks[1]
    assert first["accessory"] == {
        "type": "image",
        "image_url": "https://img.example/1.jpg",
        "alt_text": "Show 1",
    }
    assert first["text"]["text"] == (
        "*1. Show 1*\nBar LunÀtico · Fri 27 Nov, 21:00 · $15–$25\n_Why:_ Late set, small room"
    )
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [f"btn-{i}" for i in range(7)]
    assert [b["value"] for b in buttons][-1] == "more"
    assert buttons[1]["style"] == "primary" and "style" not in buttons[0]
    assert "details &lt;n&gt;" in message.blocks[-2]["elements"][0]["text"]


def test_a_long_list_is_split_into_messages_within_slacks_limits() -> None:
    reply = Reply(text="Everything:", cards=tuple(_card(n) for n in range(1, 41)))
    messages = render_reply(reply)
    assert len(messages) >= 2
    titles = []
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        assert message.blocks[0]["type"] != "divider"
        assert len(_all_text(message.blocks)) < 13_000
        ids = [
            e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
        ]
        assert len(ids) == len(set(ids))
        titles += [
            b["text"]["text"].split("*")[1] for b in message.blocks if b["type"] == "section"
        ]
    assert titles == [f"{n}. Show {n}" for n in range(1, 41)]


def test_long_text_is_split_and_every_field_is_clipped_to_its_limit() -> None:
    long_text = ("A sentence of moderate length. " * 800).strip()
    messages = render_reply(Reply(text=long_text))
    assert len(messages) >= 3
    assert all(len(m.blocks[0]["text"]) <= 12_000 for m in messages)
    assert " ".join(m.blocks[0]["text"] for m in messages).split() == long_text.split()
    huge = _card(1, title="T" * 400, why="W" * 5000, image_url="ftp://not-a-picture")
    (message,) = render_reply(Reply(cards=(huge,)))
    section = message.blocks[0]
    assert len(section["text"]["text"]) <= 3000 and "accessory" not in section


def test_a_button_value_slack_cannot_carry_is_left_out_not_cut() -> None:
    card = _card(1, buttons=(Button("Details", "details:" + "x" * 2100), Button("Ok", "ok")))
    (message,) = render_reply(Reply(cards=(card,)))
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == ["ok"]


def test_detail_shows_sessions_with_prices_and_sold_out_tickets() -> None:
    detail = ActivityDetail(
        title="Late Set at Bar LunÀtico",
        activity_id="a" * 32,
        venue="Bar LunÀtico",
        place="Bed-Stuy, Brooklyn",
        description="Two sets of live jazz & soul.",
        sessions=(
            SessionLine(
                "Fri 27 Nov, 21:00",
                (
                    TicketLine("General", "25.00 USD", True),
                    TicketLine("Table", "40.00 USD", False),
                ),
            ),
        ),
        tips=("Arrive early",),
        booking_note="Bookable here: press Book.",
        prices_fresh=True,
        buttons=(Button("Book", "book:" + "a" * 32, "primary"),),
    )
    (message,) = render_reply(Reply(detail=detail))
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Late Set at Bar LunÀtico", "emoji": True},
    }
    text = _all_text(message.blocks)
    assert "jazz &amp; soul" in text and "Live prices" in text
    assert "• General: 25.00 USD" in text and "~Table: 40.00 USD~ sold out" in text
    assert message.blocks[-1]["elements"][0]["value"] == "book:" + "a" * 32


def test_an_approval_names_who_may_confirm_and_becomes_a_plain_line_once_settled() -> None:
    approval = ApprovalRequest(
        "ap1",
        "Book 2 × General?",
        ("Late Set", "Total: $50.00"),
        requester="U0ALICE",
        confirm=Button("Confirm", "approve:ap1", "primary"),
        cancel=Button("Cancel", "reject:ap1", "danger"),
    )
    (pending,) = render_reply(Reply(approval=approval, mention="U0ALICE"))
    text = _all_text(pending.blocks)
    assert pending.blocks[0]["text"]["text"] == "<@U0ALICE>"
    assert "Only <@U0ALICE> can confirm." in text
    styles = [e["style"] for e in pending.blocks[-1]["elements"]]
    assert styles == ["primary", "danger"]
    granted = ApprovalRequest(**{**approval.__dict__, "status": "granted", "subject": "Late Set"})
    (done,) = render_reply(Reply(approval=granted))
    assert [b["type"] for b in done.blocks] == ["section"]
    # The settled card keeps its facts under what became of them.
    assert (
        done.blocks[0]["text"]["text"]
        == "✅ *Confirmed: booking Late Set*\nLate Set\nTotal: $50.00"
    )
    rejected = ApprovalRequest(**{**granted.__dict__, "status": "rejected"})
    (no,) = render_reply(Reply(approval=rejected))
    assert no.blocks[0]["text"]["text"].startswith("✖️ *Cancelled: Late Set was not booked*")
    # A malformed user id is never turned into a mention.
    (odd,) = render_reply(Reply(text="hi", mention="<!channel>"))
    assert "<!" not in _all_text(odd.blocks)


def test_in_a_dm_an_approval_mentions_nobody_and_says_what_pressing_does() -> None:
    approval = ApprovalRequest(
        "ap1",
        "Book Late Set?",
        ("Total: $50.00",),
        requester="U0ALICE",
        confirm=Button("Confirm", "approve:ap1", "primary"),
        cancel=Button("Cancel", "reject:ap1", "danger"),
    )
    (pending,) = render_reply(Reply(approval=approval, mention="U0ALICE"), direct=True)
    text = _all_text(pending.blocks)
    assert pending.blocks[0]["text"]["text"].startswith("*Book Late Set?*")
    assert "<@U0ALICE>" not in text and "Nothing is booked until you press Confirm." in text


def test_status_line_counts_seconds_and_says_when_it_finished() -> None:
    first = render_status(Progress("search:1", "Searching for “<jazz>”…"))
    later = render_status(Progress("search:1", "Searching for “<jazz>”…", 12.7))
    done = render_status(Progress("search:1", "Searching for “<jazz>”…", 31.2, done=True))
    line = [m.blocks[0]["elements"][0]["text"] for m in (first, later, done)]
    assert line == [
        "⏳ Searching for “&lt;jazz&gt;”…",
        "⏳ Searching for “&lt;jazz&gt;”… · 12 s",
        "✓ Searching for “&lt;jazz&gt;”… · took 31 s",
    ]
