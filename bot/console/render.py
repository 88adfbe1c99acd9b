"""Reply → readable plain text for the terminal."""

from __future__ import annotations

import re
import textwrap
from pathlib import PurePath

from conversations.replies import (
    SETTLED_MARKS,
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Reply,
    settled_headline,
)

WIDTH = 88


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def render_card(card: ActivityCard) -> str:
    lines = [f"{card.number:>2}. {card.title}"]
    facts = " · ".join(f for f in (card.venue, card.when, card.price_label) if f)
    if facts:
        lines.append(_wrap(facts, "    "))
    if card.why:
        lines.append(_wrap(f"Why: {card.why}", "    "))
    elif card.summary:
        lines.append(_wrap(card.summary, "    "))
    if card.image_url:
        lines.append(f"    Picture: {card.image_url}")
    actions = [f"`details {card.number}`"] if card.activity_id else []
    if card.bookable:
        actions.append(f"`book {card.number}`")
    if actions:
        lines.append("    " + " · ".join(actions))
    return "\n".join(lines)


def render_detail(detail: ActivityDetail) -> str:
    lines = [detail.title]
    where = " · ".join(f for f in (detail.venue, detail.place) if f)
    if where:
        lines.append(_wrap(where, "  "))
    if detail.description:
        lines.append(_wrap(detail.description, "  "))
    if detail.sessions:
        lines.append(
            "  Sessions and tickets" + ("" if detail.prices_fresh else " (catalogue prices)") + ":"
        )
        for session in detail.sessions:
            lines.append(f"  • {session.label}")
            for ticket in session.tickets:
                sold_out = "" if ticket.available else " — sold out"
                lines.append(f"      {ticket.name}: {ticket.price_label}{sold_out}")
    elif detail.price_label:
        lines.append(f"  Price: {detail.price_label}")
    lines.extend(_wrap(f"Tip: {tip}", "  ") for tip in detail.tips)
    if detail.booking_note:
        lines.append(_wrap(detail.booking_note, "  "))
    if detail.image_url:
        lines.append(f"  Picture: {detail.image_url}")
    return "\n".join(lines)


def render_approval(approval: ApprovalRequest) -> str:
    if approval.status != "pending":
        mark = SETTLED_MARKS.get(approval.status, "")
        return "\n".join(
            [f"{mark}{settled_headline(approval)}", *(f"  {x}" for x in approval.lines)]
        )
    lines = [approval.title, *(f"  {line}" for line in approval.lines)]
    lines.append(f"{approval.confirm.label}? Reply y to {approval.verb} or n to cancel.")
    return "\n".join(lines)


def render_reply(reply: Reply) -> str:
    parts: list[str] = []
    if reply.approval is not None:
        parts.append(render_approval(reply.approval))
    if reply.text:
        parts.append(reply.text)
    parts.extend(render_card(card) for card in reply.cards)
    if reply.detail is not None:
        parts.append(render_detail(reply.detail))
    parts.extend(f"{b.label}: {b.url}" for b in reply.buttons if b.url)
    more = [b for b in reply.buttons if b.value == "more"]
    if reply.footer or more:
        hint = reply.footer or ""
        if more:
            hint = f"{hint} Say `more` for the next ones.".strip()
        parts.append(hint)
    return "\n".join(parts)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """A file name that stays in the folder it is saved to: no directories (either slash),
    only `A-Z a-z 0-9 . _ -` (anything else becomes `_`), never hidden nor `..`."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")
    return cleaned[:120] or "file"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def render_saved_file(filename: str, size: int, path: PurePath) -> str:
    return f"📎 {filename} ({human_size(size)}) saved to {path}"
