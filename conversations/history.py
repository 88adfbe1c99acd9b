"""Stored history ↔ LLM messages, bounded and compacted.

Only the last turns are replayed to the model, and long tool results are stored compacted,
so a busy thread never grows the prompt without bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from conversations.llm import LLMMessage, Part, TextPart, ToolCallPart, ToolResultPart

COMPACT_LIMIT = 1500
_KEPT_ITEM_KEYS = ("n", "activity_id", "name", "id", "status", "when", "error")


def compact(content: str, limit: int = COMPACT_LIMIT) -> str:
    """Keep a tool result's gist (ids, names, errors) for later turns without its bulk.

    The result is valid JSON of at most `limit` characters.
    """
    if len(content) <= limit:
        return content
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        slim = {k: _slim(v) for k, v in data.items() if k != "note"}
        slim["compacted"] = True
        text = json.dumps(slim, ensure_ascii=False)
        if len(text) <= limit:
            return text
    excerpt = content[:limit]
    while True:
        text = json.dumps({"compacted": True, "excerpt": excerpt}, ensure_ascii=False)
        if len(text) <= limit:
            return text
        excerpt = excerpt[: len(excerpt) - (len(text) - limit) - 1]


def _slim(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= 160 else value[:159] + "…"
    if isinstance(value, list):
        return [_slim(item) for item in value[:8]]
    if isinstance(value, dict):
        return {k: _slim(v) for k, v in value.items() if k in _KEPT_ITEM_KEYS}
    return value


def part_to_json(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_call", "id": part.id, "name": part.name, "args": dict(part.args)}
    return {
        "type": "tool_result",
        "tool_call_id": part.tool_call_id,
        "content": compact(part.content),
        "is_error": part.is_error,
    }


def part_from_json(raw: dict[str, Any]) -> Part | None:
    kind = raw.get("type")
    if kind == "text":
        return TextPart(str(raw.get("text", "")))
    if kind == "tool_call":
        return ToolCallPart(str(raw["id"]), str(raw["name"]), dict(raw.get("args") or {}))
    if kind == "tool_result":
        return ToolResultPart(
            str(raw["tool_call_id"]), str(raw.get("content", "")), bool(raw.get("is_error"))
        )
    return None


def message_to_json(message: LLMMessage) -> list[dict[str, Any]]:
    return [part_to_json(p) for p in message.parts]


def messages_from_rows(rows: Iterable[tuple[str, Sequence[dict[str, Any]]]]) -> list[LLMMessage]:
    """Rebuild a transcript that starts at a user's own words, so tool pairs stay whole."""
    messages: list[LLMMessage] = []
    for role, content in rows:
        if role not in ("user", "assistant"):
            continue
        parts = tuple(p for p in (part_from_json(raw) for raw in content) if p is not None)
        if parts:
            messages.append(LLMMessage(role, parts))  # type: ignore[arg-type]
    while messages and not _starts_turn(messages[0]):
        messages.pop(0)
    return _drop_unanswered_calls(messages)


def _drop_unanswered_calls(messages: list[LLMMessage]) -> list[LLMMessage]:
    """A turn cut short (crash, timeout) can leave tool calls without results; drop those."""
    kept: list[LLMMessage] = []
    for index, message in enumerate(messages):
        calls = {p.id for p in message.parts if isinstance(p, ToolCallPart)}
        if calls:
            following = messages[index + 1] if index + 1 < len(messages) else None
            answered = {
                p.tool_call_id
                for p in (following.parts if following else ())
                if isinstance(p, ToolResultPart)
            }
            if not calls <= answered:
                continue
        if any(isinstance(p, ToolResultPart) for p in message.parts) and not (
            kept and any(isinstance(p, ToolCallPart) for p in kept[-1].parts)
        ):
            continue
        kept.append(message)
    return kept


def _starts_turn(message: LLMMessage) -> bool:
    return message.role == "user" and not any(isinstance(p, ToolResultPart) for p in message.parts)
