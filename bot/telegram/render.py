"""Reply → Telegram messages: HTML (every partner or model string escaped), photos with
captions, albums and inline keyboards. Pure functions; the replier sends what they return.

One answer, one notification, as few messages as Telegram allows (a group may receive 20 a
minute). A page of results is an album of its pictures (silent, each captioned "1. Title")
and then one list message: the header, the numbered cards (title, venue · when · price, the
why clipped), the footer, and one keyboard with a row per result ("1 · Details", "1 · Book")
and the reply's own buttons (More) below. The list carries the notification and the reply's
key, so a later reply under that key edits it; a page without pictures is the list alone.
A detail is one message: the photo with the whole detail as caption when it fits, else a
text that previews the picture; the place is a map link in it, not a venue message of its
own. Of the messages a reply becomes, only the first one that is not an album notifies.

Telegram counts its limits (4096 for a text, 1024 for a caption) after entity parsing, so
lengths here are measured on the visible text, in UTF-16 code units (what Telegram counts),
and a text too long for one message is split at paragraph, line or word boundaries.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot import split
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
ALBUM_SIZE = 10
"""The most photos one `sendMediaGroup` takes."""
WHY_LENGTH = 160
"""How much of a result's why (or summary) the list shows; Details has the rest."""
# A little room under the limits: a mention prefix and "(1/3)"-style markers never overflow.
TEXT_BUDGET = MAX_TEXT - 96
CAPTION_BUDGET = MAX_CAPTION - 24

Names = Callable[[str], str | None]
"""A person's display name from their Telegram user id, when known."""

Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class AlbumPhoto:
    url: str
    caption: str


@dataclass(frozen=True)
class TelegramMessage:
    """One Bot API message: `html` is the text, or the caption when `photo` is set; with
    `album` it is a media group (and `html` is unused). `preview` is a picture a text shows
    as its link preview; `silent` messages do not notify (`disable_notification`)."""

    html: str
    photo: str | None = None
    keyboard: Keyboard = ()
    album: tuple[AlbumPhoto, ...] = ()
    preview: str | None = None
    silent: bool = False


def escape(text: str) -> str:
    """Text as Telegram HTML shows it literally (`<`, `>`, `&` and quotes escaped)."""
    return html.escape(text, quote=True)


def visible_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the plain text."""
    return len(text.encode("utf-16-le")) // 2


def markup_length(markup: str) -> int:
    """`visible_length` of HTML: what Telegram counts once the tags are parsed away."""
    return visible_length(html.unescape(_strip_tags(markup)))


_CODE = re.compile(r"`([^`\n]{1,200})`")
_BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")


def format_text(text: str) -> str:
    """Plain text (a model's answer, a partner's field) → safe HTML. Only `code` and **bold**
    become markup, after escaping, so nothing the text says can inject tags."""
    escaped = escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<b>\1</b>", escaped)


def split_text(text: str, limit: int = TEXT_BUDGET) -> list[str]:
    """Plain text in pieces of at most `limit` visible units (`bot.split`)."""
    return split.split_text(text, limit, visible_length)


def clip(text: str, limit: int) -> str:
    if visible_length(text) <= limit:
        return text
    return split.prefix_within(text, limit - 1, visible_length).rstrip() + "…"


def mention_html(user_id: str, names: Names) -> str:
    """A link that notifies the person; Telegram shows their name (or "you" when unknown)."""
    label = names(user_id) or "you"
    if not user_id.isdigit():
        return escape(label)
    return f'<a href="tg://user?id={user_id}">{escape(label)}</a>'


# ---- pieces of a reply ----------------------------------------------------------------


def album_caption(card: ActivityCard) -> str:
    """What a result's picture says: its number and title, which the list repeats."""
    return escape(clip(f"{card.number}. {card.title}", CAPTION_BUDGET))


def card_lines(card: ActivityCard) -> list[str]:
    """A result in the list: its bold numbered title, the facts, and the why (clipped)."""
    lines = [f"<b>{card.number}. {escape(card.title)}</b>"]
    facts = " · ".join(escape(f) for f in (card.venue, card.when, card.price_label) if f)
    if facts:
        lines.append(facts)
    about = card.why or card.summary
    if about:
        lines.append(f"<i>{escape(clip(about, WHY_LENGTH))}</i>")
    return lines


def render_albums(cards: tuple[ActivityCard, ...]) -> list[TelegramMessage]:
    """The cards' pictures, as few media groups as Telegram allows (none without pictures)."""
    photos = [AlbumPhoto(c.image_url, album_caption(c)) for c in cards if c.image_url]
    return [
        TelegramMessage("", album=tuple(photos[i : i + ALBUM_SIZE]))
        for i in range(0, len(photos), ALBUM_SIZE)
    ]


def render_results(reply: Reply) -> list[TelegramMessage]:
    """A page of results: the album(s) of its pictures, then the list with every button."""
    albums = render_albums(reply.cards)
    blocks: list[str] = []
    if reply.text.strip():
        blocks.extend(format_text(p) for p in split_text(reply.text))
    blocks.extend("\n".join(card_lines(card)) for card in reply.cards)
    if reply.footer:
        blocks.append(format_text(reply.footer))
    rows = tuple(
        tuple(dataclasses.replace(b, label=f"{card.number} · {b.label}") for b in card.buttons)
        for card in reply.cards
        if card.buttons
    )
    return albums + _html_messages(blocks, rows + button_rows(reply.buttons), separator="\n\n")


def map_link(detail: ActivityDetail) -> str | None:
    """The place as a link that opens the map, when its coordinates are known."""
    if detail.lat is None or detail.lng is None:
        return None
    name = detail.venue or detail.place or detail.title
    url = f"https://maps.google.com/?q={detail.lat},{detail.lng}"
    return f'📍 <a href="{escape(url)}">{escape(name)}</a>'


def detail_lines(detail: ActivityDetail) -> list[str]:
    lines = [f"<b>{escape(detail.title)}</b>"]
    where = " · ".join(escape(f) for f in (detail.venue, detail.place) if f)
    if where:
        lines.append(where)
    place = map_link(detail)
    if place:
        lines.append(place)
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
    """One photo with the whole detail as caption when it fits, otherwise a text (more than
    one only past 4096) that shows the picture as its link preview."""
    keyboard = button_rows(detail.buttons)
    lines = detail_lines(detail)
    body = "\n".join(lines)
    if detail.image_url and markup_length(body) <= MAX_CAPTION:
        return [TelegramMessage(body, photo=detail.image_url, keyboard=keyboard)]
    messages = _html_messages(lines, keyboard)
    if detail.image_url:
        messages[0] = dataclasses.replace(messages[0], preview=detail.image_url)
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
    """The one status line of long work, refreshed in place (and deleted once done)."""
    seconds = f" ({update.elapsed_s:.0f}s)" if update.elapsed_s >= 1 else ""
    if update.done:
        return f"✓ {escape(update.text)}"
    return f"⏳ {escape(update.text)}{seconds}"


def render_private_notice(user_id: str, names: Names, bot_username: str) -> TelegramMessage:
    """What a group sees instead of a reply meant for one person the bot cannot write to:
    a mention and how to open a private chat, never the private content."""
    handle = f" (@{escape(bot_username)})" if bot_username else ""
    return TelegramMessage(
        f"{mention_html(user_id, names)} I have something private for you: open a chat with"
        f" me{handle}, say /start, then ask me again."
    )


def render_document(
    reply: Reply, names: Names, *, group: bool
) -> tuple[str, list[TelegramMessage]]:
    """A reply with a file: the document's caption (as much of the text as a caption holds,
    addressed to `mention` in a group) and the silent messages of the rest (the text past
    the caption, cards, detail, buttons)."""
    text = reply.text.strip()
    first = split_text(text, CAPTION_BUDGET)[0] if text else ""
    caption = format_text(first)
    if reply.mention and group:
        addressed = "\n".join(p for p in (mention_html(reply.mention, names), caption) if p)
        caption = addressed if markup_length(addressed) <= MAX_CAPTION else caption
    rest = dataclasses.replace(reply, text=text[len(first) :].strip(), file=None, mention=None)
    messages = render_reply(rest, names, group=group)
    return caption, [dataclasses.replace(m, silent=True) for m in messages]


# ---- the whole reply --------------------------------------------------------------------


def render_reply(reply: Reply, names: Names, *, group: bool) -> list[TelegramMessage]:
    """Every message `reply` becomes, in order: approval, then a page of results (albums and
    the list) or text, detail and the footer with the reply's own buttons (or those buttons
    under the last text message). One notifies; a group's is addressed to `mention`."""
    messages: list[TelegramMessage] = []
    if reply.approval is not None:
        messages.append(render_approval(reply.approval, names, group=group))
    if reply.cards:
        messages.extend(render_results(reply))
        if reply.detail is not None:
            messages.extend(render_detail(reply.detail))
    else:
        messages.extend(_plain(reply))
    loud = next((i for i, m in enumerate(messages) if not m.album), None)
    # An approval names who may confirm in its own words; anything else gets the mention.
    if reply.mention and group and loud is not None and reply.approval is None:
        messages[loud] = _addressed(messages[loud], mention_html(reply.mention, names))
    return [dataclasses.replace(m, silent=i != loud) for i, m in enumerate(messages)]


def _plain(reply: Reply) -> list[TelegramMessage]:
    """Text, detail, then the footer with the reply's buttons (or those buttons under the
    last text message)."""
    messages: list[TelegramMessage] = []
    if reply.text.strip():
        messages.extend(_html_messages([format_text(p) for p in split_text(reply.text)], ()))
    if reply.detail is not None:
        messages.extend(render_detail(reply.detail))
    keyboard = button_rows(reply.buttons)
    if reply.footer:
        messages.extend(_html_messages([format_text(reply.footer)], keyboard))
    elif keyboard:
        last = messages[-1] if messages else None
        if last is not None and last.photo is None and not last.keyboard:
            messages[-1] = dataclasses.replace(last, keyboard=keyboard)
        else:
            messages.append(TelegramMessage("Choose:", keyboard=keyboard))
    return messages


def _addressed(message: TelegramMessage, mention: str) -> TelegramMessage:
    """`message` with the person's mention on a line of its own above it, so it never runs
    into a bold title or the first word of a sentence; left as is when it would not fit."""
    addressed = f"{mention}\n{message.html}"
    limit = MAX_CAPTION if message.photo else MAX_TEXT
    if markup_length(addressed) > limit:
        return message
    return dataclasses.replace(message, html=addressed)


def button_rows(buttons: tuple[Button, ...]) -> Keyboard:
    """Buttons as keyboard rows of at most `BUTTONS_PER_ROW` (a poll's Close vote, say)."""
    return tuple(
        tuple(buttons[i : i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW)
    )


def _html_messages(
    lines: list[str], keyboard: Keyboard, *, separator: str = "\n"
) -> list[TelegramMessage]:
    """HTML lines packed into as few text messages as fit; the keyboard goes on the last.
    A line is never cut (each is far shorter than a message: `split_text` cut them)."""
    chunks = list(_pack(lines, separator))
    return [
        TelegramMessage(chunk, keyboard=keyboard if i == len(chunks) - 1 else ())
        for i, chunk in enumerate(chunks)
    ]


def _pack(lines: list[str], separator: str) -> Iterator[str]:
    current: list[str] = []
    size = 0
    for line in lines:
        length = markup_length(line) + len(separator)
        if current and size + length > TEXT_BUDGET:
            yield separator.join(current)
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        yield separator.join(current)


_TAG = re.compile(r"<[^>]+>")


def _strip_tags(markup: str) -> str:
    return _TAG.sub("", markup)
