"""The offline planner: a stand-in model for when no Anthropic key is configured.

It implements the same `LLM` protocol, turning plain commands into the same tool calls a
real model would make, so the whole loop (tools, actions, cards) runs without a key.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from conversations.llm import (
    LLMMessage,
    LLMRequest,
    LLMResponse,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from conversations.offline_phrases import (
    agency_request,
    book_reference,
    details_number,
    event_request,
    everyday_search,
    fix_command_word,
    is_book_it,
    known_place,
    plan_request,
    suggestion,
)

OFFLINE_NOTE = (
    "I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only."
)

HELP = f"""{OFFLINE_NOTE}
• search <what> [in <where>] — e.g. `search jazz in Brooklyn`
• near <place or lat,lng> — ideas nearby, e.g. `near Williamsburg` or `near 40.71,-73.96`
• details <n> — sessions, tickets and prices of result n
• book <n> [<how many> <ticket type>] [on <YYYY-MM-DD> <HH:MM>] — e.g. `book 2 2 General Admission`
• more — the next results
• call <who> at <number> and <what to ask> — a phone call by the AI voice agent,
  e.g. `call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm`
• reserve a table for <n> at <restaurant> [in <city>] [tomorrow] [at <time>] — through
  Onegent, e.g. `reserve a table for 2 at Le Bernardin tomorrow at 7pm`; `reserve a room at
  <hotel> [in <city>]` for a hotel, `book a flight from <origin> to <destination> [on <day>]`
  for a flight (what is missing is asked; passport details privately)
• make this an event for <title> — then `add everyone`, `run matching`, `who should I
  meet` (answered privately), `reviews`, and `don't share me` for yourself
• ask the agency to <trip> — hand a trip to the travel agency, e.g. `ask the agency to
  plan 5 days in Lisbon for 4 in May`; their agent then answers in the thread until you say
  `done with the agency` (`agency itinerary` for its itinerary, `agency audit export` for admins)
• plan <outing> [under $<price>] [, voting closes at <HH:MM>] — in a group: a poll of
  options, then `I'm in` buttons and a booking each person approves, e.g. `plan a night out
  with live music in brooklyn under $40, voting closes at 18:00`
• orders — your bookings
• status — what is running or finished here
• help — this list"""

_NEAR = re.compile(r"^(?:near|nearby|around)\s*(?P<where>.*)$", re.I)
_BOOK = re.compile(
    r"^book\s+#?(?P<n>\d{1,3})(?:\s+x?(?P<qty>\d{1,2})\s+(?P<ticket>.+?))?"
    r"(?:\s+(?:on|at)\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+(?P<time>\d{1,2}:\d{2}))?)?$",
    re.I,
)
_CALL = re.compile(
    r"^(?:call|phone|ring)\s+(?P<who>.+?)\s+(?:at|on)\s+(?P<number>\+?\d[\d\s().-]{4,}\d)"
    r"(?:\s*(?:,|and|to)\s*(?P<what>.+))?$",
    re.I,
)
_TABLE = re.compile(
    r"^(?:reserve|book)\s+(?:a\s+)?table(?:\s+for\s+(?P<covers>\d{1,2}))?\s+at\s+(?P<name>.+?)"
    r"(?:\s+in\s+(?P<city>.+?))?(?:\s+(?P<date>today|tonight|tomorrow|on\s+[\w-]+(?:\s+\w+)?))?"
    r"(?:\s+at\s+(?P<time>\d{1,2}(?::\d{2})?\s*(?:am|pm)?))?$",
    re.I,
)
_ROOM = re.compile(
    r"^(?:reserve|book)\s+(?:a\s+)?(?:hotel\s+)?room\s+at\s+(?P<name>.+?)(?:\s+in\s+(?P<city>.+))?$",
    re.I,
)
_FLIGHT = re.compile(
    r"^(?:reserve|book)\s+(?:a\s+)?flight\s+from\s+(?P<origin>.+?)\s+to\s+(?P<dest>.+?)"
    r"(?:\s+(?:on\s+)?(?P<date>today|tomorrow|\d{4}-\d{2}-\d{2}|(?:next\s+)?[a-z]+day))?$",
    re.I,
)
_ORDERS = re.compile(
    r"^(?:(?:show|list|see)\s+(?:me\s+)?)?(?:all\s+)?(?:my\s+)?"
    r"(?:orders|bookings|tickets|reservations)(?:\s+so\s+far)?$"
    r"|what\s+(?:did|have)\s+i\s+(?:book|reserve|order)(?:ed|d)?(?:\s+so\s+far)?$",
    re.I,
)
_MORE = frozenset(
    {"more", "next", "more results", "show more", "show me more", "more please", "next page"}
    | {"more ideas", "more options", "any more", "anything else"}
)
_STATUS = frozenset(
    {"status", "/status", "jobs", "my jobs", "progress", "what's going on", "whats going on"}
    | {"what is going on", "what's running", "whats running", "what is running"}
    | {"anything running", "is anything running", "what are you doing"}
)
_GREETINGS = frozenset({"", "help", "?", "hi", "hello", "start", "/start", "/help"})
_THANKS = frozenset(
    {"thanks", "thank you", "thanks a lot", "thank you so much", "thx", "ty", "cheers"}
    | {"great", "cool", "ok", "okay", "nice", "perfect", "awesome", "got it", "great thanks"}
    | {"ok thanks", "ok thank you", "cool thanks", "no thanks", "all good"}
)
_YES = frozenset({"y", "yes", "yeah", "yep", "yup", "sure", "confirm", "yes please", "go ahead"})
_NO = frozenset({"n", "no", "nope", "nah"})
_CONFIRMING = frozenset({"awaiting_confirmation", "asked_user", "asking_the_user"})
TRY = "Try `search <what> in <where>`, or `help`."
CONFIRM_HINT = (
    "If the confirmation above is still open, use its button to go ahead (in the terminal, "
    "reply `y`): a typed answer can't approve it."
)
CANCEL_HINT = (
    "If the confirmation above is still open, use its Cancel button (in the terminal, reply "
    "`n`). Nothing happens until it is confirmed."
)
THANKED = (
    "You're welcome! Say `more` for more ideas, `details <n>` for one of them, or "
    "`search <what> in <where>` for something new."
)


class OfflinePlanner:
    """Plain commands → tool calls; tool results → a short sentence (or nothing: cards speak)."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        last = request.messages[-1] if request.messages else None
        if last is not None and any(isinstance(p, ToolResultPart) for p in last.parts):
            return LLMResponse((TextPart(_after_tools(last)),))
        text = _text_of(last)
        available = {tool.name for tool in request.tools}
        return _plan(text, available, request.messages)


def _text_of(message: LLMMessage | None) -> str:
    if message is None:
        return ""
    return " ".join(p.text for p in message.parts if isinstance(p, TextPart)).strip()


def _call(name: str, args: dict[str, Any], available: set[str]) -> LLMResponse:
    if name not in available:
        return _say("That service is not set up here, so I can't do that right now.")
    return LLMResponse((ToolCallPart(f"offline_{uuid.uuid4().hex[:12]}", name, args),), "tool_use")


def _say(text: str) -> LLMResponse:
    return LLMResponse((TextPart(text),))


def _plan(text: str, available: set[str], messages: Sequence[LLMMessage]) -> LLMResponse:
    shared = _shared_location(text)
    if shared is not None:
        return _call("nearby_activities", shared, available)
    command = " ".join(text.split()).strip().rstrip(".!?").strip()
    lowered = command.lower().rstrip(" ,!")
    if lowered in _GREETINGS:
        return _say(HELP)
    waiting = _awaiting_confirmation(messages)
    if lowered in _YES or (waiting and lowered in {"ok", "okay"}):
        return _say(CONFIRM_HINT if waiting else "Nothing is waiting for a yes right now. " + TRY)
    if lowered in _NO:
        return _say(CANCEL_HINT if waiting else "OK! " + TRY)
    if lowered in _THANKS:
        return _say(THANKED)
    understood = _understood(command, available, messages)
    if understood is None and (fixed := fix_command_word(command)) != command:
        understood = _understood(fixed, available, messages)
    return understood or _say(suggestion(command))


def _understood(
    command: str, available: set[str], messages: Sequence[LLMMessage]
) -> LLMResponse | None:
    """The tool call for `command`, or None when it is none of the commands."""
    lowered = command.lower()
    if lowered in _MORE:
        return _call("more_results", {}, available)
    if _ORDERS.match(command):
        return _call("list_orders", {}, available)
    if lowered in _STATUS:
        return _call("job_status", {}, available)
    if is_book_it(command):
        shown = _last_detail(messages)
        if shown is None:
            return _say("Which one? Say `book <n>` with the result's number, e.g. `book 1`.")
        return _call("book_activity", {"activity_id": shown}, available)
    if (event := event_request(command)) is not None:
        return _call(*event, available)
    if (plan := plan_request(command)) is not None:
        return _call("plan_outing", plan, available)
    if (agency := agency_request(command)) is not None:
        if agency[0] == "ask_agency" and "destination" not in agency[1]:
            return _say(
                "Where to? Say e.g. `ask the agency to plan 5 days in Lisbon for 4 in May`."
            )
        return _call(*agency, available)
    return (
        _booking(book_reference(command) or command, available)
        or _reservation(command, available)
        or _phone_call(command, available)
        or _looking(command, available)
    )


def _booking(command: str, available: set[str]) -> LLMResponse | None:
    match = _BOOK.match(command)
    if match is None:
        return None
    args: dict[str, Any] = {"number": int(match["n"])}
    if match["qty"]:
        args["tickets"] = [{"name": match["ticket"].strip(), "quantity": int(match["qty"])}]
    if match["date"]:
        args["session_date"] = match["date"]
    if match["time"]:
        args["session_time"] = match["time"].zfill(5)
    return _call("book_activity", args, available)


def _reservation(command: str, available: set[str]) -> LLMResponse | None:
    if match := _TABLE.match(command):
        table: dict[str, Any] = {"scenario": "restaurant", "restaurant_name": match["name"].strip()}
        for name in ("city", "time"):
            if match[name]:
                table[name] = match[name].strip()
        if match["date"]:
            table["date"] = match["date"].removeprefix("on ").strip()
        if match["covers"]:
            table["covers"] = int(match["covers"])
        return _call("reserve", table, available)
    if match := _FLIGHT.match(command):
        flight = {"scenario": "flight", "origin": match["origin"], "dest": match["dest"]}
        if match["date"]:
            flight["date"] = match["date"]
        return _call("reserve", flight, available)
    if match := _ROOM.match(command):
        room: dict[str, Any] = {"scenario": "hotel", "hotel_name": match["name"].strip()}
        if match["city"]:
            room["city"] = match["city"].strip()
        return _call("reserve", room, available)
    return None


def _phone_call(command: str, available: set[str]) -> LLMResponse | None:
    match = _CALL.match(command)
    if match is None:
        return None
    who, what = match["who"].strip(), (match["what"] or "").strip()
    brief = f"Call {who} on behalf of the user" + (f" and {what}." if what else ".")
    args = {"target_phone": match["number"].strip(), "brief": brief, "callee": who}
    return _call("start_call", args, available)


def _looking(command: str, available: set[str]) -> LLMResponse | None:
    """Details of a card, ideas near a place, or a search, however it is phrased."""
    number = details_number(command)
    if number is not None:
        return _call("get_activity", {"number": number}, available)
    if match := _NEAR.match(command):
        where = match["where"].strip()
        if not where:
            return _say("Near where? Say `near <place>` or share a location.")
        return _call("nearby_activities", {"place": known_place(where) or where}, available)
    search = everyday_search(command)
    return None if search is None else _call("search_activities", search.args(), available)


def _results(messages: Sequence[LLMMessage]) -> list[dict[str, Any]]:
    """The tool results in `messages` that are JSON objects, oldest first."""
    found = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                try:
                    data = json.loads(part.content)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    found.append(data)
    return found


def _awaiting_confirmation(messages: Sequence[LLMMessage]) -> bool:
    """Whether the latest tool result is a confirmation (a booking, a call, a reservation),
    or questions that end in one: a "yes" is then most likely meant for it, which only its
    button can give."""
    results = _results(messages)
    return bool(results) and results[-1].get("status") in _CONFIRMING


def _last_detail(messages: Sequence[LLMMessage]) -> str | None:
    """The activity whose details were shown last, for “book it”."""
    for result in reversed(_results(messages)):
        if result.get("source") == "outgoing_activity" and result.get("activity_id"):
            return str(result["activity_id"])
    return None


def _shared_location(text: str) -> dict[str, Any] | None:
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            point = json.loads(line).get("shared_location")
            return {"lat": float(point["lat"]), "lng": float(point["lng"])}
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return None


def _after_tools(message: LLMMessage) -> str:
    """Errors are said in words, and so is the job ledger; other results already reached the
    chat (cards, a status line, a question)."""
    sentences = []
    for part in message.parts:
        if not isinstance(part, ToolResultPart):
            continue
        try:
            data = json.loads(part.content)
        except ValueError:
            data = None
        if part.is_error:
            error = data.get("error") if isinstance(data, dict) else None
            sentences.append(str(error) if error else "That didn't work.")
        elif isinstance(data, dict) and data.get("source") == "job_ledger":
            jobs = [str(j.get("status")) for j in data.get("jobs") or [] if isinstance(j, dict)]
            sentences.append("\n".join(f"• {j}" for j in jobs) or "Nothing is running here.")
    return " ".join(sentences)
