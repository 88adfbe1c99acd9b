"""Replies and inbound items to JSON and back: what the outbox and inbox keep across a crash.

A reply's file travels inline, its bytes in base64 (the outbox payload is sealed at rest:
`storage.sealing`, so an export's personal data is not readable on disk)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from conversations.replies import (
    ActivityCard,
    ActivityDetail,
    ApprovalRequest,
    Button,
    FileAttachment,
    Poll,
    Reply,
    SessionLine,
    TicketLine,
)
from conversations.types import (
    ButtonPress,
    ConversationAddress,
    GeoPoint,
    Inbound,
    InboundMessage,
    Sender,
)


def reply_to_json(reply: Reply) -> dict[str, Any]:
    raw = dataclasses.asdict(dataclasses.replace(reply, file=None))
    raw["file"] = _file_to_json(reply.file) if reply.file is not None else None
    return raw


def _file_to_json(file: FileAttachment) -> dict[str, Any]:
    return {
        "filename": file.filename,
        "mime": file.mime,
        "title": file.title,
        "content_b64": base64.b64encode(file.content).decode("ascii"),
    }


def _file(raw: dict[str, Any]) -> FileAttachment:
    """The file back; a payload altered to carry more than `MAX_FILE_BYTES` raises."""
    return FileAttachment(
        filename=raw["filename"],
        content=base64.b64decode(raw["content_b64"], validate=True),
        mime=raw.get("mime") or "application/octet-stream",
        title=raw.get("title"),
    )


def _buttons(raw: list[dict[str, Any]]) -> tuple[Button, ...]:
    return tuple(Button(**b) for b in raw)


def _card(raw: dict[str, Any]) -> ActivityCard:
    return ActivityCard(**{**raw, "buttons": _buttons(raw.get("buttons", []))})


def _detail(raw: dict[str, Any]) -> ActivityDetail:
    sessions = tuple(
        SessionLine(s["label"], tuple(TicketLine(**t) for t in s["tickets"]))
        for s in raw.get("sessions", [])
    )
    return ActivityDetail(
        **{
            **raw,
            "sessions": sessions,
            "tips": tuple(raw.get("tips", [])),
            "buttons": _buttons(raw.get("buttons", [])),
        }
    )


def _approval(raw: dict[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        **{
            **raw,
            "lines": tuple(raw["lines"]),
            "confirm": Button(**raw["confirm"]),
            "cancel": Button(**raw["cancel"]),
        }
    )


def _poll(raw: dict[str, Any]) -> Poll:
    return Poll(**{**raw, "options": _buttons(raw["options"])})


def reply_from_json(raw: dict[str, Any]) -> Reply:
    return Reply(
        text=raw.get("text", ""),
        cards=tuple(_card(c) for c in raw.get("cards", [])),
        detail=_detail(raw["detail"]) if raw.get("detail") else None,
        buttons=_buttons(raw.get("buttons", [])),
        footer=raw.get("footer"),
        approval=_approval(raw["approval"]) if raw.get("approval") else None,
        key=raw.get("key"),
        mention=raw.get("mention"),
        private_to=raw.get("private_to"),
        private_chat=bool(raw.get("private_chat", False)),
        file=_file(raw["file"]) if raw.get("file") else None,
        poll=_poll(raw["poll"]) if raw.get("poll") else None,
    )


def inbound_to_json(item: Inbound) -> dict[str, Any]:
    kind = "press" if isinstance(item, ButtonPress) else "message"
    return {"kind": kind, **dataclasses.asdict(item)}


def inbound_from_json(raw: dict[str, Any]) -> Inbound:
    address = ConversationAddress(**raw["address"])
    sender = Sender(**raw["sender"])
    if raw["kind"] == "press":
        return ButtonPress(address, sender, raw["value"], raw["event_id"])
    location = GeoPoint(**raw["location"]) if raw.get("location") else None
    return InboundMessage(
        address, sender, raw["text"], raw["event_id"], location, bool(raw.get("private", False))
    )
