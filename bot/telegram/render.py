"""Reply → Telegram messages: HTML (every partner or model string escaped), photos with
captions, and inline keyboards. Pure functions; the replier sends what they return.

Telegram counts its limits (4096 for a text, 1024 for a caption) after entity parsing, so
lengths here are measured on the visible text, in UTF-16 code units (what Telegram counts),
and a text too long for one message is split at paragraph, line or word boundaries.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from conversations.replies import (
    SETTLED_MARKS,
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Button,
    Progress,
    Reply,
    settled_headline,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
BUTTONS_PER_ROW = 3
# A little room under the limits: a mention prefix and "(1/3)"-style markers never overflow.
TEXT_BUDGET = MAX_TEXT - 96
CAPTION_BUDGET = MAX_CAPTION - 24

Names = Callable[[str], str | None]
"""A person's display name from their Telegram user id, when known."""


@dataclass(frozen=True)
class Venue:
    """A place on the map, sent as Telegram's venue message."""

    lat: float
    lng: float
    title: str
    address: str


@dataclass(frozen=True)
class TelegramMessage:
    """One Bot API message: `html` is the text, or the caption when `photo` is set; with
    `venue` it is a venue message (and `html` is unused)."""

    html: str
    photo: str | None = None
    keyboard: tuple[tuple[Button, ...], ...] = ()
    venue: Venue | None = None


def escape(text: str) -> str:
    """Text as Telegram HTML shows it literally (`<`, `>`, `&` and quotes escaped)."""
    return html.escape(text, quote=True)


def visible_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the plain text."""
    return len(text.encode("utf-16-le")) // 2


_CODE = re.compile(r"`([^`\n]{1,200})`")
_BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")


def format_text(text: str) -> str:
    """Plain text (a model's answer, a partner's field) → safe HTML. Only `code` and **bold**
    become markup, after escaping, so nothing the text says can inject tags."""
    escaped = escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<b>\1</b>", escaped)


def split_text(text: str, limit: int = TEXT_BUDGET) -> list[str]:
    """Plain text in pieces of at most `limit` visible units, cut at the latest paragraph,
    line or word boundary that fits (a hard cut only for a single endless word)."""
    pieces: list[str] = []
    rest = text.strip()
    while visible_length(rest) > limit:
        window = _prefix_within(rest, limit)
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = len(window)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _prefix_within(text: str, limit: int) -> str:
    """The longest prefix of `text` whose visible length is at most `limit`."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def clip(text: str, limit: int) -> str:
    if visible_length(text) <= limit:
        return text
    return _prefix_within(text, limit - 1).rstrip() + "…"


def mention_html(user_id: str, names: Names) -> str:
    """A link that notifies the person; Telegram shows their name (or "you" when unknown)."""
    label = names(user_id) or "you"
    if not user_id.isdigit():
        return escape(label)
    return f'<a href="tg://user?id={user_id}">{escape(label)}</a>'


# ---- pieces of a reply ----------------------------------------------------------------


def card_caption(card: ActivityCard, budget: int = CAPTION_BUDGET) -> str:
    title = f"<b>{card.number}. {escape(card.title)}</b>"
    facts = " · ".join(escape(f) for f in (card.venue, card.when, card.price_label) if f)
    fixed = [title, *([facts] if facts else [])]
    used = sum(visible_length(html.unescape(_strip_tags(line))) + 1 for line in fixed)
    about = card.why or card.summary
    if about:
        room = budget - used - (5 if card.why else 0)
        if room > 20:
            text = clip(about, room)
            fixed.append(f"<i>Why:</i> {escape(text)}" if card.why else escape(text))
    return "\n".join(fixed)


def render_card(card: ActivityCard) -> TelegramMessage:
    keyboard = (tuple(card.buttons),) if card.buttons else ()
    return TelegramMessage(card_caption(card), photo=card.image_url, keyboard=keyboard)


def detail_lines(detail: ActivityDetail) -> list[str]:
    lines = [f"<b>{escape(detail.title)}</b>"]
    where = " · ".join(escape(f) for f in (detail.venue, detail.place) if f)
    if where:
        lines.append(where)
    if detail.description:
        lines.append(escape(detail.description))
    if detail.sessions:
        note = "" if detail.prices_fresh else " (catalogue prices)"
        lines.append(f"\n<b>Sessions and tickets</b>{note}")
        for session in detail.sessions:
            lines.append(f"• {escape(session.label)}")
            for ticket in session.tickets:
                sold_out = " — <i>sold out</i>" if not ticket.available else ""
                lines.append(f"    {escape(ticket.name)}: {escape(ticket.price_label)}{sold_out}")
    elif detail.price_label:
        lines.append(f"Price: {escape(detail.price_label)}")
    lines.extend(f"💡 {escape(tip)}" for tip in detail.tips)
    if detail.booking_note:
        lines.append(f"<i>{escape(detail.booking_note)}</i>")
    return lines


def render_detail(detail: ActivityDetail) -> list[TelegramMessage]:
    """One photo with the whole detail as caption when it fits, otherwise text messages;
    then the place on the map when its coordinates are known."""
    keyboard = _rows(detail.buttons)
    body = "\n".join(detail_lines(detail))
    if detail.image_url and visible_length(html.unescape(_strip_tags(body))) <= MAX_CAPTION:
        messages = [TelegramMessage(body, photo=detail.image_url, keyboard=keyboard)]
    else:
        messages = _html_messages(detail_lines(detail), keyboard)
    if detail.lat is not None and detail.lng is not None:
        place = Venue(
            detail.lat,
            detail.lng,
            detail.venue or detail.title,
            detail.place or detail.venue or "",
        )
        messages.append(TelegramMessage("", venue=place))
    return messages


def render_approval(approval: ApprovalRequest, names: Names, *, group: bool) -> TelegramMessage:
    lines = [escape(line) for line in approval.lines]
    if approval.status == "pending":
        head = f"<b>{escape(approval.title)}</b>"
        who = (
            f"Only {mention_html(approval.requester, names)} can confirm."
            if group
            else escape(approval.until)
        )
        return TelegramMessage(
            "\n".join([head, *lines, "", who]),
            keyboard=((approval.confirm, approval.cancel),),
        )
    mark = SETTLED_MARKS.get(approval.status, "")
    verdict = f"{mark}<b>{escape(settled_headline(approval))}</b>"
    return TelegramMessage("\n".join([verdict, *lines]))


def render_status(update: Progress) -> str:
    """The one status line of long work, refreshed in place."""
    seconds = f" ({update.elapsed_s:.0f}s)" if update.elapsed_s >= 1 else ""
    if update.done:
        return f"✓ {escape(update.text)} done{seconds}"
    return f"⏳ {escape(update.text)}{seconds}"


def render_private_notice(user_id: str, names: Names, bot_username: str) -> TelegramMessage:
    """What a group sees instead of a reply meant for one person the bot cannot write to:
    a mention and how to open a private chat, never the private content."""
    handle = f" (@{escape(bot_username)})" if bot_username else ""
    return TelegramMessage(
        f"{mention_html(user_id, names)} I have something private for you: open a chat with"
        f" me{handle}, say /start, then ask me again."
    )


# ---- the whole reply --------------------------------------------------------------------


def render_reply(reply: Reply, names: Names, *, group: bool) -> list[TelegramMessage]:
    """Every message `reply` becomes, in order: approval, text, cards, detail, then the
    footer with the reply's own buttons (or those buttons under the last text message)."""
    messages: list[TelegramMessage] = []
    if reply.approval is not None:
        messages.append(render_approval(reply.approval, names, group=group))
    if reply.text.strip():
        messages.extend(_html_messages([format_text(p) for p in split_text(reply.text)], ()))
    messages.extend(render_card(card) for card in reply.cards)
    if reply.detail is not None:
        messages.extend(render_detail(reply.detail))
    keyboard = _rows(reply.buttons)
    if reply.footer:
        messages.extend(_html_messages([format_text(reply.footer)], keyboard))
    elif keyboard:
        last = messages[-1] if messages else None
        if last is not None and last.photo is None and not last.keyboard:
            messages[-1] = TelegramMessage(last.html, keyboard=keyboard)
        else:
            messages.append(TelegramMessage("Choose:", keyboard=keyboard))
    if reply.mention and group and messages:
        first = messages[0]
        prefix = mention_html(reply.mention, names)
        limit = MAX_CAPTION if first.photo else MAX_TEXT
        if visible_length(html.unescape(_strip_tags(f"{prefix} {first.html}"))) <= limit:
            messages[0] = TelegramMessage(f"{prefix} {first.html}", first.photo, first.keyboard)
    return messages


def _rows(buttons: tuple[Button, ...]) -> tuple[tuple[Button, ...], ...]:
    return tuple(
        tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW)
    )


def _html_messages(
    lines: list[str], keyboard: tuple[tuple[Button, ...], ...]
) -> list[TelegramMessage]:
    """HTML lines packed into as few text messages as fit; the keyboard goes on the last.
    A line is never cut (each is far shorter than a message: `split_text` cut them)."""
    chunks = list(_pack(lines))
    return [
        TelegramMessage(chunk, keyboard=keyboard if i == len(chunks) - 1 else ())
        for i, chunk in enumerate(chunks)
    ]


def _pack(lines: list[str]) -> Iterator[str]:
    current: list[str] = []
    size = 0
    for line in lines:
        length = visible_length(html.unescape(_strip_tags(line))) + 1
        if current and size + length > TEXT_BUDGET:
            yield "\n".join(current)
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        yield "\n".join(current)


_TAG = re.compile(r"<[^>]+>")


def _strip_tags(markup: str) -> str:
    return _TAG.sub("", markup)
