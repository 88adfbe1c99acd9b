"""A fake Telegram Bot API server: `/bot<token>/<method>`, recording every call.

It answers the methods the concierge uses with Bot API shaped results (albums, deletions and
drafts too), checks that every HTML text or caption parses the way Telegram would (only its
tags, balanced, entities escaped, within 4096/1024 characters) and refuses it like Telegram
otherwise, keeps what every posted message shows now (`shown`: edits applied, deleted ones
gone) and whether a send notified (`disable_notification`), serves queued
updates to `getUpdates`, and can be told to fail: a method once (a 429 with `retry_after`,
say), every send to a chat that blocked the bot (`blocked`: 403), or to a person who never
started a private chat with it (`not_started`: 403, "bot can't initiate conversation").
Uploads (`sendDocument`) come as multipart/form-data: the fake parses them and keeps each
delivered file (`documents`: the chat, file name, bytes, type and caption). Native polls
(`sendPoll`, `stopPoll`) are kept in `polls` by id, checked like Telegram checks them (2–12
options of 1–100 characters, a question of 1–300, no stopping twice); `editMessageReplyMarkup`
changes a message's keyboard only. Answers to a poll are updates a test delivers itself
(`harness.poll_answer`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_ID = 7000001
BOT_USERNAME = "ConciergeTestBot"
TOKEN = f"{BOT_ID}:AAHtesttokentesttokentesttokentest1"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Concierge", "username": BOT_USERNAME}
SENDS = ("sendMessage", "sendPhoto", "sendMediaGroup", "sendVenue", "sendDocument", "sendPoll")
EDITS = ("editMessageText", "editMessageCaption")
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        """The text or caption (a poll's question); an album's captions, one a line."""
        if self.method == "sendPoll":
            return str(self.params.get("question") or "")
        if isinstance(self.params.get("media"), list):
            return "\n".join(str(m.get("caption") or "") for m in self.params["media"])
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def silent(self) -> bool:
        """Sent with `disable_notification`: nobody's phone buzzes."""
        return self.params.get("disable_notification") in (True, "true", "True")

    @property
    def thread_id(self) -> int | None:
        value = self.params.get("message_thread_id")
        return int(value) if value is not None else None

    @property
    def reply_to(self) -> int | None:
        reply = self.params.get("reply_parameters")
        return int(reply["message_id"]) if isinstance(reply, dict) else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup")
        if not isinstance(markup, dict):
            return []
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def callback_data(self, label: str) -> str:
        return next(str(b["callback_data"]) for b in self.buttons if b["text"] == label)


def option_persistent_id(poll_id: str, index: int) -> str:
    """The identifier Telegram gives a poll's option for good (Bot API 9.6)."""
    return f"{poll_id}-{index}"


@dataclass
class FakePoll:
    """A native poll the bot posted, as its chat sees it."""

    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    is_anonymous: bool
    allows_multiple_answers: bool
    allows_revoting: bool = True
    closed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "options": [
                {"text": o, "voter_count": 0, "persistent_id": option_persistent_id(self.id, i)}
                for i, o in enumerate(self.options)
            ],
            "total_voter_count": 0,
            "is_closed": self.closed,
            "is_anonymous": self.is_anonymous,
            "type": "regular",
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.allows_revoting,
            "members_only": False,
        }


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request, as the Bot API receives it."""

    filename: str
    content: bytes
    mime: str


@dataclass(frozen=True)
class Document:
    """A file the bot delivered in a chat (`sendDocument`), as the person sees it."""

    chat_id: int
    filename: str
    content: bytes
    mime: str
    caption: str
    thread_id: int | None
    message_id: int


class _TelegramHTML(HTMLParser):
    """Parses like Telegram: its tags only, properly nested; returns the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = f'unmatched end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        self.text.append(data)


_RAW_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


def visible_html(markup: str) -> tuple[str, str | None]:
    if _RAW_AMPERSAND.search(markup):
        return markup, "unescaped &"
    parser = _TelegramHTML()
    parser.feed(markup)
    parser.close()
    if parser.stack and parser.error is None:
        parser.error = f'unclosed tag "{parser.stack[-1]}"'
    if parser.error is None and ("<" in "".join(parser.text) and "&lt;" not in markup):
        parser.error = "stray <"
    return "".join(parser.text), parser.error


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.documents: list[Document] = []
        self.polls: dict[str, FakePoll] = {}
        """Every poll the bot posted, by id."""
        self.blocked: set[int] = set()
        self.send_delay_s = 0.0
        """How long `sendMessage` takes to answer (a slow Telegram)."""
        self.not_started: set[int] = set()
        """Private chats (user ids) the bot may not write to first: the person never said
        /start to it."""
        self.refuse_photos = False
        self.admins: dict[int, set[int]] = {}
        """Each group's administrators (user ids), as getChatMember reports them."""
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._new_updates = asyncio.Event()
        self._ids = itertools.count(5000)
        self._shown: dict[tuple[int, int], str] = {}
        self.shown: dict[tuple[int, int], str] = {}
        """What each message the bot posted says now, edits applied, deleted ones gone."""
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._handle, methods=["POST"])])

    # ---- what tests set up ------------------------------------------------------------

    def fail_once(self, method: str, status: int, body: Mapping[str, Any]) -> None:
        self._failures.setdefault(method, []).append((status, dict(body)))

    def rate_limit_once(self, method: str, retry_after: int = 1) -> None:
        self.fail_once(
            method,
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            },
        )

    def queue_update(self, update: Mapping[str, Any]) -> None:
        self._updates.append(dict(update))
        self._new_updates.set()

    # ---- what tests read ---------------------------------------------------------------

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Messages delivered (the fake answered ok), in order."""
        return [
            c
            for c in self.calls
            if c.method in SENDS
            and (chat_id is None or c.chat_id == chat_id)
            and c.params.get("_ok")
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.text for c in self.sent(chat_id)]

    def notifying(self, chat_id: int | None = None) -> list[Call]:
        """Messages delivered that notified the chat (not `disable_notification`)."""
        return [c for c in self.sent(chat_id) if not c.silent]

    def final_texts(self, chat_id: int) -> list[str]:
        """What the chat shows now, oldest first: every message's latest text, edits applied
        and deleted messages left out."""
        return [text for (chat, _), text in sorted(self.shown.items()) if chat == chat_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    "timed out; calls: " + json.dumps([c.method for c in self.calls])
                )
            await asyncio.sleep(0.02)

    # ---- the Bot API -------------------------------------------------------------------

    async def _handle(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != TOKEN:
            return _error(401, "Unauthorized")
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            params = _multipart(raw, content_type)
        elif content_type.startswith("application/json"):
            params = json.loads(raw.decode() or "{}")
        else:
            params = {key: _json_or_text(value) for key, value in parse_qsl(raw.decode())}
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if method == "sendMessage":
            await asyncio.sleep(self.send_delay_s)
        failures = self._failures.get(method)
        if failures:
            status, answer = failures.pop(0)
            return JSONResponse(answer, status_code=status)
        chat = params.get("chat_id")
        if chat is not None and int(chat) in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat is not None and int(chat) in self.not_started:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        result = await handler(params)
        if isinstance(result, JSONResponse):
            return result
        params["_ok"] = True
        return JSONResponse({"ok": True, "result": result})

    async def _getMe(self, params: dict[str, Any]) -> Any:
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}

    async def _true(self, params: dict[str, Any]) -> Any:
        return True

    _setMyCommands = _setWebhook = _deleteWebhook = _sendChatAction = _true
    _answerCallbackQuery = _true

    async def _getChatMember(self, params: dict[str, Any]) -> Any:
        user_id = int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if user_id not in self.admins.get(int(params["chat_id"]), set()):
            return {"status": "member", "user": user}
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        return {"status": "administrator", "user": user, **dict.fromkeys(rights, False)}

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        refused = _check(str(params.get("text", "")), 4096)
        return refused or self._message(params, text=params["text"])

    async def _sendPhoto(self, params: dict[str, Any]) -> Any:
        if self.refuse_photos:
            return _error(400, "Bad Request: wrong type of the web page content")
        refused = _check(str(params.get("caption", "")), 1024)
        photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 800, "height": 500}]
        return refused or self._message(params, caption=params.get("caption"), photo=photo)

    async def _sendVenue(self, params: dict[str, Any]) -> Any:
        for field in ("latitude", "longitude", "title", "address"):
            if field not in params:
                return _error(400, f"Bad Request: {field} is required")
        if not (
            -90 <= float(params["latitude"]) <= 90 and -180 <= float(params["longitude"]) <= 180
        ):
            return _error(400, "Bad Request: wrong venue location")
        venue = {
            "location": {"latitude": params["latitude"], "longitude": params["longitude"]},
            "title": params["title"],
            "address": params["address"],
        }
        params["_ok"] = True
        return self._message(params, venue=venue)

    async def _sendDocument(self, params: dict[str, Any]) -> Any:
        upload = params.get("_files", {}).get("document")
        if upload is None:
            return _error(400, "Bad Request: there is no document in the request")
        caption = str(params.get("caption") or "")
        refused = _check(caption, 1024)
        if refused:
            return refused
        document = {
            "file_id": f"d{next(self._ids)}",
            "file_unique_id": f"ud{len(self.documents)}",
            "file_name": upload.filename,
            "mime_type": upload.mime,
            "file_size": len(upload.content),
        }
        message = self._message(params, caption=caption or None, document=document)
        self.documents.append(
            Document(
                int(params["chat_id"]),
                upload.filename,
                upload.content,
                upload.mime,
                caption,
                int(params["message_thread_id"]) if params.get("message_thread_id") else None,
                message["message_id"],
            )
        )
        return message

    async def _editMessageText(self, params: dict[str, Any]) -> Any:
        return _check(str(params.get("text", "")), 4096) or self._edit(params, "text")

    async def _editMessageCaption(self, params: dict[str, Any]) -> Any:
        return _check(str(params.get("caption", "")), 1024) or self._edit(params, "caption")

    def _edit(self, params: dict[str, Any], field: str) -> Any:
        where = (int(params["chat_id"]), int(params["message_id"]))
        if where not in self.shown:
            return _error(400, "Bad Request: message to edit not found")
        shown = str(params.get(field, "")) + json.dumps(params.get("reply_markup"))
        if self._shown.get(where) == shown:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup of "
                "the message",
            )
        self._shown[where] = shown
        self.shown[where] = str(params.get(field, ""))
        return True

    async def _sendPoll(self, params: dict[str, Any]) -> Any:
        question = str(params.get("question") or "")
        raw = params.get("options")
        options = [str(o["text"] if isinstance(o, dict) else o) for o in raw or []]
        if not 1 <= _visible(question) <= 300:
            return _error(400, "Bad Request: poll question length must not exceed 300")
        if not 2 <= len(options) <= 12:
            return _error(400, "Bad Request: poll must have 2-12 options")
        if any(not 1 <= _visible(o) <= 100 for o in options):
            return _error(400, "Bad Request: poll options length must not exceed 100")
        if params.get("question_parse_mode") or any(
            isinstance(o, dict) and o.get("text_parse_mode") for o in raw or []
        ):
            return _error(400, "Bad Request: a poll's text is plain here")
        poll = FakePoll(
            f"poll{next(self._ids)}",
            int(params["chat_id"]),
            0,
            question,
            options,
            is_anonymous=_flag(params.get("is_anonymous"), default=True),
            allows_multiple_answers=_flag(params.get("allows_multiple_answers"), default=False),
            allows_revoting=_flag(params.get("allows_revoting"), default=True),
        )
        message = self._message(params, poll=poll.as_json())
        poll.message_id = int(message["message_id"])
        self.shown[(poll.chat_id, poll.message_id)] = question
        self.polls[poll.id] = poll
        return message

    async def _stopPoll(self, params: dict[str, Any]) -> Any:
        where = (int(params["chat_id"]), int(params["message_id"]))
        poll = next((p for p in self.polls.values() if (p.chat_id, p.message_id) == where), None)
        if poll is None or where not in self.shown:
            return _error(400, "Bad Request: message with poll to stop not found")
        if poll.closed:
            return _error(400, "Bad Request: poll has already been closed")
        poll.closed = True
        self._shown[where] = self.shown[where] + json.dumps(params.get("reply_markup"))
        return poll.as_json()

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        where = (int(params["chat_id"]), int(params["message_id"]))
        if where not in self.shown:
            return _error(400, "Bad Request: message to edit not found")
        shown = self.shown[where] + json.dumps(params.get("reply_markup"))
        if self._shown.get(where) == shown:
            return _error(400, "Bad Request: message is not modified")
        self._shown[where] = shown
        return True

    def poll_of(self, call: Call) -> FakePoll:
        """The poll a `sendPoll` call posted."""
        return next(p for p in self.polls.values() if p.message_id == call.params["_message_id"])

    async def _deleteMessage(self, params: dict[str, Any]) -> Any:
        where = (int(params["chat_id"]), int(params["message_id"]))
        if self.shown.pop(where, None) is None:
            return _error(400, "Bad Request: message to delete not found")
        return True

    async def _sendMediaGroup(self, params: dict[str, Any]) -> Any:
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return _error(400, "Bad Request: wrong number of messages in the media group")
        if self.refuse_photos:
            return _error(400, "Bad Request: failed to send message #1 with the error message")
        if "reply_markup" in params:
            return _error(400, "Bad Request: a media group can't have a keyboard")
        for item in media:
            refused = _check(str(item.get("caption") or ""), 1024)
            if refused:
                return refused
        photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 800, "height": 500}]
        group = f"g{next(self._ids)}"
        return [
            self._message(params, caption=item.get("caption"), photo=photo, media_group_id=group)
            for item in media
        ]

    async def _sendMessageDraft(self, params: dict[str, Any]) -> Any:
        if int(params["chat_id"]) < 0:
            return _error(400, "Bad Request: drafts are for private chats only")
        if not int(params.get("draft_id") or 0):
            return _error(400, "Bad Request: draft_id must be non-zero")
        return _check(str(params.get("text", "")), 4096) or True

    async def _getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_updates.clear()
            wait = min(float(params.get("timeout") or 0), 0.3)
            try:
                await asyncio.wait_for(self._new_updates.wait(), timeout=wait)
            except TimeoutError:
                return []
        return list(self._updates)

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            **{k: v for k, v in content.items() if v is not None},
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = int(params["message_thread_id"])
            message["is_topic_message"] = True
        params.setdefault("_message_id", message["message_id"])
        shown = str(content.get("text") or content.get("caption") or "")
        self.shown[(chat_id, message["message_id"])] = shown
        self._shown[(chat_id, message["message_id"])] = shown + json.dumps(
            params.get("reply_markup")
        )
        return message


def _multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """The fields of a multipart body (JSON values decoded, as in a form); its files under
    `_files`, by field name."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    body = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    params: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for part in body.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        value = part.get_payload(decode=True)
        content = value if isinstance(value, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            uploads[name] = Upload(filename, content, part.get_content_type())
            params[name] = f"<file {filename}>"
        else:
            params[name] = _json_or_text(content.decode())
    params["_files"] = uploads
    return params


def _json_or_text(value: str) -> Any:
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _visible(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _flag(value: Any, *, default: bool) -> bool:
    return default if value is None else value in (True, "true", "True")


def _check(markup: str, limit: int) -> JSONResponse | None:
    text, error = visible_html(markup)
    if error is not None:
        return _error(400, f"Bad Request: can't parse entities: {error}")
    if len(text.encode("utf-16-le")) // 2 > limit:
        return _error(400, "Bad Request: message is too long")
    return None


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": status, "description": description}, status_code=status
    )
