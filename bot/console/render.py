"""Reply → readable plain text for the terminal.

A terminal has no buttons, so the buttons a reply carries are shown as what to type
(`typed_hint`): `vote <n>` for a poll's options, `pick <n>` for a choice among alike
buttons (a tie), and any other button of two words or more by its label (`i'm in`).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import PurePath

from conversations.replies import (
    SETTLED_MARKS,
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Button,
    Reply,
    settled_headline,
)
from conversations.welcome import TRY

WIDTH = 88
UNTYPED = frozenset({TRY, "answer"})
"""Verbs whose buttons are never pressed by typing their label: a welcome suggestion is
shown as its text, a question takes its typed answer."""


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def _facts(card: ActivityCard) -> str:
    return " · ".join(f for f in (card.venue, card.when, card.price_label) if f)


def render_card(card: ActivityCard, *, seen: bool = False) -> str:
    """A card; `seen` (an edit of a message already printed): its title line alone. Its
    commands follow its buttons: a plan's card is not one of a search's `book <n>`."""
    lines = [f"{card.number:>2}. {card.title}"]
    if seen:
        return lines[0]
    facts = _facts(card)
    if facts:
        lines.append(_wrap(facts, "    "))
    if card.why:
        lines.append(_wrap(f"Why: {card.why}", "    "))
    elif card.summary:
        lines.append(_wrap(card.summary, "    "))
    if card.image_url:
        lines.append(f"    Picture: {card.image_url}")
    verbs = {verb(b) for b in card.buttons}
    actions = [f"`{v} {card.number}`" for v in ("details", "book") if v in verbs]
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


def render_approval(approval: ApprovalRequest, *, to: str | None = None) -> str:
    """The card; `to`: the name of the person it is for when it is not the terminal's user,
    who answers it as them (`as Bea: y`)."""
    if approval.status != "pending":
        mark = SETTLED_MARKS.get(approval.status, "")
        return "\n".join(
            [f"{mark}{settled_headline(approval)}", *(f"  {x}" for x in approval.lines)]
        )
    lines = [approval.title, *(f"  {line}" for line in approval.lines)]
    yes, no = (f"`as {to}: y`", f"`as {to}: n`") if to else ("y", "n")
    lines.append(f"{approval.confirm.label}? Reply {yes} to {approval.verb} or {no} to cancel.")
    return "\n".join(lines)


def verb(button: Button) -> str:
    return button.value.partition(":")[0]


def head(label: str) -> str:
    """A label's words before its details: "I'm in · $25.00" → "I'm in"."""
    return label.split(" · ", 1)[0].strip()


def typed(text: str) -> str:
    """Text as it is compared with a label: lower case, no apostrophes (`im in` says
    `I'm in` too), single spaces, no closing punctuation."""
    cleaned = text.lower().replace("\u2019", "").replace("'", "")
    return " ".join(cleaned.split()).strip(" .!?")


def _ours(button: Button) -> bool:
    return button.url is None and ":" in button.value and verb(button) not in UNTYPED


def choices(reply: Reply) -> tuple[Button, ...]:
    """Two or more buttons of one verb and nothing else (a tie's options): `pick <n>`."""
    if len(reply.buttons) < 2 or not all(_ours(b) for b in reply.buttons):
        return ()
    return reply.buttons if len({verb(b) for b in reply.buttons}) == 1 else ()


def labelled(reply: Reply) -> tuple[Button, ...]:
    """The buttons pressed by typing their label: two words or more, so a one-word reply
    ("more", "retry") still means what it says."""
    if choices(reply):
        return ()
    return tuple(b for b in reply.buttons if _ours(b) and len(typed(head(b.label)).split()) > 1)


def _range(word: str, n: int) -> str:
    return f"`{word} 1`" if n == 1 else f"`{word} 1`…`{word} {n}`"


def typed_hint(reply: Reply) -> str:
    """What to type for the reply's buttons: "Type `vote 1`…`vote 3`, or `close vote`."."""
    said: list[str] = []
    if reply.poll is not None and not reply.poll.closed and reply.poll.options:
        said.append(_range("vote", len(reply.poll.options)))
    if picks := choices(reply):
        said.append(_range("pick", len(picks)))
    heads: dict[str, list[Button]] = {}
    for button in labelled(reply):
        heads.setdefault(head(button.label).lower(), []).append(button)
    for word, buttons in heads.items():
        if len(buttons) == 1:
            said.append(f"`{word}`")
        else:
            said.extend(
                f"`{word} {n}` ({b.label.split(' · ', 1)[-1]})" for n, b in enumerate(buttons, 1)
            )
    if not said:
        return ""
    listed = said[0] if len(said) == 1 else ", ".join(said[:-1]) + ", or " + said[-1]
    return f"Type {listed}."


def render_poll(reply: Reply, *, seen: bool) -> list[str]:
    """The poll's counts and voters (its text), each option with its venue, time and price
    under it the first time; an edit (`seen`) is the counts alone."""
    facts = {} if seen else {f"{c.number}. ": _facts(c) for c in reply.cards}
    lines: list[str] = []
    for line in reply.text.splitlines():
        lines.append(line)
        fact = next((f for start, f in facts.items() if line.startswith(start)), "")
        if fact:
            lines.append(_wrap(fact, "    "))
    return lines


def render_reply(reply: Reply, *, to: str | None = None, seen: bool = False) -> str:
    """The reply as printed. `to`: the name of the person it is private to when that is not
    the terminal's user (shown first, so the terminal says whose it is); `seen`: an edit of a
    message already printed, its cards shortened to their titles."""
    parts: list[str] = []
    if reply.approval is not None:
        parts.append(render_approval(reply.approval, to=to))
    if reply.poll is not None:
        parts.extend(render_poll(reply, seen=seen))
    else:
        if reply.text:
            parts.append(reply.text)
        parts.extend(render_card(card, seen=seen) for card in reply.cards)
        parts.extend(f"{n:>2}. {b.label}" for n, b in enumerate(choices(reply), 1))
    if reply.detail is not None:
        parts.append(render_detail(reply.detail))
    parts.extend(f"{b.label}: {b.url}" for b in reply.buttons if b.url)
    more = [b for b in reply.buttons if b.value == "more"]
    if reply.footer or more:
        hint = reply.footer or ""
        if more:
            hint = f"{hint} Say `more` for the next ones.".strip()
        parts.append(hint)
    if not to and (what_to_type := typed_hint(reply)):
        parts.append(what_to_type)
    shown = "\n".join(parts)
    return f"(to {to}, privately) {shown}" if to and shown else shown


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
