"""Volatile parts of what the bot says, replaced by placeholders so a transcript is stable.

The sandbox's clock is pinned (see `clock`), so event dates need no help; what still moves is
the bot's own clock (answer deadlines), loopback ports, and ids minted per run.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d{1,2}:\d{2} UTC\b"), "<time> UTC"),
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\bOG-SBX-[0-9A-Z]+\b"), "OG-SBX-<code>"),
    (re.compile(r"\b[0-9a-f]{24,}\b"), "<token>"),
)


def normalise(text: str) -> str:
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text
