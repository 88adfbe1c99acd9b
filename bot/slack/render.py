"""Reply → Block Kit: the one renderer of the Slack front-end.

Partner and user text goes into `mrkdwn` with only `&`, `<` and `>` escaped (mrkdwn is not
Markdown); the model's prose goes into a `markdown` block, where only Slack's own `<…>`
tokens are neutralised. Every message respects Slack's limits (50 blocks, 3000 characters a
section, 150 a header, 12,000 of `markdown` per payload, 75 a button label, 2000 a button
value); a reply that would not fit is split into several messages, never truncated into one
giant one. Buttons get `action_id`s `btn-<n>` (unique within their message) and carry the
core's opaque value untouched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.split import split_text
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

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT = 2000
MAX_MARKDOWN = 11_000  # Slack allows 12,000 of `markdown` per payload; keep a margin
MAX_MESSAGE_CHARS = 11_000  # Slack's practical ceiling for one message is about 13k
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2000
MAX_IMAGE_URL = 3000
MAX_FALLBACK = 3000
MAX_FILE_COMMENT = 3000
"""The longest text that goes with an uploaded file as its comment; a longer one is posted."""
ACTION_PREFIX = "btn-"
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_SLACK_TOKEN_START = re.compile(r"<(?=\S)")


@dataclass(frozen=True)
class SlackMessage:
    """One `chat.postMessage`/`chat.update` payload: notification text and blocks."""

    text: str
    blocks: tuple[Block, ...]


def escape(text: str) -> str:
    """mrkdwn escaping: exactly `&`, `<` and `>`, so no `<!channel>` or `<url|label>` forms."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutralise_markdown(text: str) -> str:
    """For `markdown` blocks and streams: backslash-escape a `<` that could open a Slack token
    (`<!channel>`, `<@U…>`, `<#C…>`, `<https://…|label>`); Markdown itself stays intact."""
    return _SLACK_TOKEN_START.sub(r"\\<", text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mention(user_id: str | None) -> str | None:
    """`<@U…>` for a well-formed Slack user id, else None (never a raw `<…>` from data)."""
    return f"<@{user_id}>" if user_id and USER_ID.match(user_id) else None


# ---- blocks -----------------------------------------------------------------------------


def _section(mrkdwn: str, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(mrkdwn, MAX_SECTION)},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, MAX_CONTEXT)}]}


def _markdown(text: str) -> Block:
    return {"type": "markdown", "text": text}


def _header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True},
    }


def _image(url: str | None, alt: str) -> Block | None:
    if not url or len(url) > MAX_IMAGE_URL or not url.startswith(("https://", "http://")):
        return None
    return {"type": "image", "image_url": url, "alt_text": clip(alt, 2000) or "picture"}


MAX_BUTTON_URL = 3000


def _button(button: Button) -> Block | None:
    if not button.value or len(button.value) > MAX_BUTTON_VALUE:
        return None  # an opaque id cannot be shortened; a broken button is worse than none
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(button.label, MAX_BUTTON_LABEL), "emoji": True},
        "value": button.value,
    }
    if button.style != "default":
        element["style"] = button.style
    if button.url:
        if len(button.url) > MAX_BUTTON_URL:
            return None  # a cut link leads nowhere
        element["url"] = button.url
    return element


def _actions(buttons: Iterable[Button]) -> Block | None:
    elements = [e for e in (_button(b) for b in buttons) if e is not None][:25]
    return {"type": "actions", "elements": elements} if elements else None


def _facts(*parts: str | None) -> str:
    return " · ".join(escape(p) for p in parts if p)


# ---- units: groups of blocks that stay in one message -----------------------------------


@dataclass
class _Unit:
    blocks: list[Block]
    fallback: str = ""

    @property
    def chars(self) -> int:
        return sum(_block_chars(b) for b in self.blocks)

    @property
    def markdown_chars(self) -> int:
        return sum(len(b["text"]) for b in self.blocks if b["type"] == "markdown")


def _block_chars(block: Block) -> int:
    if block["type"] == "markdown":
        return len(block["text"])
    total = 0
    text = block.get("text")
    if isinstance(text, dict):
        total += len(text.get("text", ""))
    for element in block.get("elements", ()):
        inner = element.get("text")
        total += len(inner.get("text", "")) if isinstance(inner, dict) else len(inner or "")
    return total


def _text_units(text: str, user: str | None) -> list[_Unit]:
    units: list[_Unit] = []
    if user:
        units.append(_Unit([_section(user)], ""))
    for chunk in split_text(text, MAX_MARKDOWN):
        units.append(_Unit([_markdown(neutralise_markdown(chunk))], chunk))
    return units


def card_unit(card: ActivityCard, *, images: bool = True) -> _Unit:
    lines = [f"*{card.number}. {escape(card.title)}*"]
    facts = _facts(card.venue, card.when, card.price_label)
    if facts:
        lines.append(facts)
    if card.why:
        lines.append(f"_Why:_ {escape(card.why)}")
    elif card.summary:
        lines.append(escape(card.summary))
    accessory = _image(card.image_url, card.title) if images else None
    blocks = [_section("\n".join(lines), accessory)]
    actions = _actions(card.buttons)
    if actions is not None:
        blocks.append(actions)
    return _Unit(blocks, f"{card.number}. {card.title}")


def detail_units(detail: ActivityDetail, *, images: bool = True) -> list[_Unit]:
    head: list[Block] = [_header(detail.title)]
    where = _facts(detail.venue, detail.place)
    about = "\n".join(p for p in (where, escape(detail.description or "")) if p)
    accessory = _image(detail.image_url, detail.title) if images else None
    if about or accessory is not None:
        head.append(_section(about or escape(detail.title), accessory))
    units = [_Unit(head, detail.title)]
    if detail.sessions:
        note = "Live prices" if detail.prices_fresh else "Catalogue prices; they may have changed"
        units.append(_Unit([_context(f"*Sessions and tickets* · {note}")]))
        for session in detail.sessions:
            lines = [f"*{escape(session.label)}*"]
            for ticket in session.tickets:
                line = f"{escape(ticket.name)}: {escape(ticket.price_label)}"
                line = line if ticket.available else f"~{line}~ sold out"
                if ticket.note:
                    line += f" · _{escape(ticket.note)}_"
                lines.append(f"• {line}")
            if not session.tickets:
                lines.append("• No ticket types listed")
            units.append(_Unit([_section("\n".join(lines))]))
    elif detail.price_label:
        units.append(_Unit([_section(f"*Price:* {escape(detail.price_label)}")]))
    tail: list[Block] = [_context(f"Tip: {escape(tip)}") for tip in detail.tips]
    if detail.booking_note:
        tail.append(_section(escape(detail.booking_note)))
    actions = _actions(detail.buttons)
    if actions is not None:
        tail.append(actions)
    if tail:
        units.append(_Unit(tail))
    return units


def approval_unit(approval: ApprovalRequest, *, direct: bool = False) -> _Unit:
    """The confirmation card; in a DM (`direct`) it says what pressing does rather than who
    may press, since the one person reading it is the one who asked."""
    title = escape(approval.title)
    details = [escape(line) for line in approval.lines]
    if approval.status != "pending":
        # Settled: the same facts stay (When, Where, Total), under what became of them.
        headline = settled_headline(approval)
        mark = SETTLED_MARKS.get(approval.status, "")
        return _Unit([_section("\n".join([f"{mark}*{escape(headline)}*", *details]))], headline)
    lines = [f"*{title}*", *details]
    blocks = [_section("\n".join(lines))]
    who = mention(approval.requester)
    if direct:
        blocks.append(_context(escape(approval.until)))
    elif who:
        blocks.append(_context(f"Only {who} can confirm."))
    actions = _actions((approval.confirm, approval.cancel))
    if actions is not None:
        blocks.append(actions)
    return _Unit(blocks, approval.title)


def _units(reply: Reply, *, images: bool, direct: bool) -> list[_Unit]:
    units: list[_Unit] = []
    user = None if direct else mention(reply.mention)
    if reply.approval is not None:
        if user:
            units.append(_Unit([_section(user)]))
        units.append(approval_unit(reply.approval, direct=direct))
        user = None
    if reply.text.strip():
        units.extend(_text_units(reply.text, user))
    elif user:
        units.append(_Unit([_section(user)]))
    for index, card in enumerate(reply.cards):
        if index:
            units.append(_Unit([{"type": "divider"}]))
        units.append(card_unit(card, images=images))
    if reply.detail is not None:
        units.extend(detail_units(reply.detail, images=images))
    tail: list[Block] = []
    if reply.footer:
        tail.append(_context(escape(reply.footer)))
    actions = _actions(reply.buttons)
    if actions is not None:
        tail.append(actions)
    if tail:
        units.append(_Unit(tail))
    return units


# ---- packing ------------------------------------------------------------------------------


@dataclass
class _Packer:
    messages: list[list[_Unit]] = field(default_factory=list)
    _blocks: int = 0
    _chars: int = 0
    _markdown: int = 0

    def add(self, unit: _Unit) -> None:
        if not unit.blocks:
            return
        fits = (
            self.messages
            and self._blocks + len(unit.blocks) <= MAX_BLOCKS
            and self._chars + unit.chars <= MAX_MESSAGE_CHARS
            and self._markdown + unit.markdown_chars <= MAX_MARKDOWN
        )
        if not fits:
            if unit.blocks[0]["type"] == "divider":
                return  # a divider never opens a message
            self.messages.append([])
            self._blocks = self._chars = self._markdown = 0
        self.messages[-1].append(unit)
        self._blocks += len(unit.blocks)
        self._chars += unit.chars
        self._markdown += unit.markdown_chars


def _number_buttons(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """Give every button of one message a unique `action_id` (`btn-0`, `btn-1`, …)."""
    numbered: list[Block] = []
    index = 0
    for block in blocks:
        if block["type"] == "actions":
            elements = []
            for element in block["elements"]:
                elements.append({**element, "action_id": f"{ACTION_PREFIX}{index}"})
                index += 1
            block = {**block, "elements": elements}
        numbered.append(block)
    return tuple(numbered)


def _fallback(units: Sequence[_Unit], default: str) -> str:
    text = " · ".join(u.fallback.strip() for u in units if u.fallback.strip()) or default
    return escape(clip(" ".join(text.split()), MAX_FALLBACK))


def render_reply(reply: Reply, *, images: bool = True, direct: bool = False) -> list[SlackMessage]:
    """The messages that show `reply` (usually one; more when it exceeds Slack's limits).
    `direct`: seen by one person only (a DM, an ephemeral message), so nobody is mentioned."""
    packer = _Packer()
    for unit in _units(reply, images=images, direct=direct):
        packer.add(unit)
    messages = []
    for index, units in enumerate(packer.messages):
        blocks = [block for unit in units for block in unit.blocks]
        default = "Concierge" if index == 0 else "(continued)"
        messages.append(SlackMessage(_fallback(units, default), _number_buttons(blocks)))
    return messages or [SlackMessage("…", (_section("…"),))]


def render_status(update: Progress) -> SlackMessage:
    """The one status line of long work, updated in place until the results replace it."""
    seconds = int(update.elapsed_s)
    if update.done:
        line = f"✓ {escape(update.text)} · took {seconds} s"
    elif seconds:
        line = f"⏳ {escape(update.text)} · {seconds} s"
    else:
        line = f"⏳ {escape(update.text)}"
    return SlackMessage(escape(clip(update.text, MAX_FALLBACK)), (_context(line),))


def file_parts(reply: Reply, *, direct: bool) -> tuple[str | None, Reply | None]:
    """A reply with a file on Slack: the upload's comment (the text, mrkdwn-escaped, with the
    mention outside a DM) and what is posted after the file (cards, buttons, a text too long
    for a comment), or None when nothing is left."""
    user = None if direct else mention(reply.mention)
    text = reply.text.strip()
    fits = len(text) <= MAX_FILE_COMMENT
    said = [user] if user else []
    if fits and text:
        said.append(escape(text))
    comment = " ".join(said) or None
    rest = dataclasses.replace(reply, file=None, text="" if fits else text, mention=None)
    left = rest.text or rest.cards or rest.detail or rest.buttons or rest.footer or rest.approval
    return comment, rest if left else None
