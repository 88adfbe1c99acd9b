"""Long text in pieces a chat platform accepts, for every front-end.

Each platform measures its limits its own way (Slack in characters, Telegram in UTF-16 code
units of the visible text), so the measure is a parameter: ``length`` must grow with the
text (a prefix is never longer than the whole), which every such count does.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Length", "prefix_within", "split_text"]

Length = Callable[[str], int]


def prefix_within(text: str, limit: int, length: Length = len) -> str:
    """The longest prefix of ``text`` whose ``length`` is at most ``limit``."""
    if length(text) <= limit:
        return text
    low, high = 0, len(text)  # length(text[:low]) <= limit < length(text[:high])
    while high - low > 1:
        middle = (low + high) // 2
        if length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle
    return text[:low]


def split_text(text: str, limit: int, length: Length = len) -> list[str]:
    """``text`` (stripped) in pieces of at most ``limit`` by ``length``, each cut at the latest
    line break or space in the second half of what fits, so no word is cut but an endless
    one. Pieces carry no leading or trailing whitespace. A single character longer than
    ``limit`` still makes a piece of its own."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while length(rest) > limit:
        window = prefix_within(rest, limit, length)
        cut = max(window.rfind("\n"), window.rfind(" "))
        if cut <= len(window) // 2:
            cut = max(1, len(window))
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
