"""What each reservation needs, how to ask for it, and how to read the answers.

Every required field the person has not given is asked as a question — with buttons where
the choices are few (party size 1–8; tonight / tomorrow for a date) — never guessed.
Relative dates ("tomorrow", "friday") are resolved in the conversation's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from conversations.questions import AnswerForm, Choice

__all__ = [
    "FIELDS",
    "MONTHS",
    "REQUIRED",
    "FieldProblem",
    "Need",
    "read_date",
    "read_time",
    "today_in",
]


class FieldProblem(ValueError):
    """An answer that doesn't fit the field; the message says what would."""


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}


def read_date(text: str, *, today: date) -> str:
    """`2026-12-04`, `today`/`tonight`, `tomorrow`, a weekday, `4 dec`, `dec 4` → ISO date."""
    words = " ".join(text.lower().replace(",", " ").split()).strip(" .!")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", words):
        try:
            return date.fromisoformat(words).isoformat()
        except ValueError:
            raise FieldProblem("That date doesn't exist; use YYYY-MM-DD.") from None
    if words in ("today", "tonight", "this evening"):
        return today.isoformat()
    if words == "tomorrow":
        return (today + timedelta(days=1)).isoformat()
    named = words.removeprefix("next ").removeprefix("this ")
    if named in _WEEKDAYS:
        ahead = (_WEEKDAYS.index(named) - today.weekday()) % 7 or 7
        return (today + timedelta(days=ahead)).isoformat()
    match = re.fullmatch(r"(\d{1,2})\s+([a-z]+)|([a-z]+)\s+(\d{1,2})", words)
    if match:
        day = int(match.group(1) or match.group(4))
        month = MONTHS.get(match.group(2) or match.group(3) or "")
        if month:
            for year in (today.year, today.year + 1):
                try:
                    when = date(year, month, day)
                except ValueError:
                    raise FieldProblem("That date doesn't exist.") from None
                if when >= today:
                    return when.isoformat()
    raise FieldProblem("Which date? Say e.g. “tomorrow”, “friday”, “4 Dec” or 2026-12-04.")


def read_time(text: str) -> str:
    """`19:00`, `7pm`, `7:30 pm`, `19h30` → `HH:MM` (24 h)."""
    words = text.lower().replace(" ", "").replace(".", ":").strip()
    match = re.fullmatch(r"(\d{1,2})(?:[:h](\d{2}))?(am|pm)?", words)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if match.group(3) == "pm" and hour < 12:
            hour += 12
        if match.group(3) == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60 and (match.group(2) or match.group(3)):
            return f"{hour:02d}:{minute:02d}"
    raise FieldProblem("What time? Say e.g. 19:30 or 7:30pm.")


def _count(low: int, high: int, what: str) -> Callable[[str, date], int]:
    def read(text: str, _: date) -> int:
        match = re.search(r"\d+", text)
        if match and low <= int(match.group()) <= high:
            return int(match.group())
        raise FieldProblem(f"How many {what}? A number from {low} to {high}.")

    return read


def _text(limit: int, what: str) -> Callable[[str, date], str]:
    def read(text: str, _: date) -> str:
        cleaned = " ".join(text.split())[:limit]
        if len(cleaned) < 2:
            raise FieldProblem(f"Which {what}?")
        return cleaned

    return read


def _airport(text: str, _: date) -> str:
    cleaned = " ".join(text.split())
    if 2 <= len(cleaned) <= 60:
        return cleaned.upper() if re.fullmatch(r"[A-Za-z]{3}", cleaned) else cleaned
    raise FieldProblem("Which airport or city? An IATA code like JFK works best.")


@dataclass(frozen=True)
class Need:
    """One required field: its question, its buttons and how to read an answer."""

    name: str
    prompt: str
    read: Callable[[str, date], Any]
    choices: tuple[Choice, ...] = ()

    @property
    def form(self) -> AnswerForm:
        return AnswerForm.CHOICE if self.choices else AnswerForm.TEXT


_PEOPLE = tuple(Choice(str(n), str(n)) for n in range(1, 9))
_DAYS = (Choice("today", "Tonight"), Choice("tomorrow", "Tomorrow"))


def _date_field(name: str, prompt: str) -> Need:
    return Need(
        name, prompt + " (or type a date)", lambda t, today: read_date(t, today=today), _DAYS
    )


FIELDS: Mapping[str, Mapping[str, Need]] = {
    "restaurant": {
        "restaurant_name": Need("restaurant_name", "Which restaurant?", _text(120, "restaurant")),
        "city": Need("city", "In which city?", _text(80, "city")),
        "date": _date_field("date", "For which day?"),
        "time": Need("time", "At what time? (e.g. 19:30)", lambda t, _: read_time(t)),
        "covers": Need("covers", "For how many people?", _count(1, 20, "people"), _PEOPLE),
    },
    "hotel": {
        "hotel_name": Need("hotel_name", "Which hotel?", _text(120, "hotel")),
        "city": Need("city", "In which city?", _text(80, "city")),
        "checkin": _date_field("checkin", "Checking in on which day?"),
        "checkout": Need(
            "checkout",
            "Checking out on which day? (a date, e.g. 6 Dec)",
            lambda t, today: read_date(t, today=today),
        ),
        "adults": Need("adults", "For how many adults?", _count(1, 10, "adults"), _PEOPLE),
    },
    "flight": {
        "origin": Need("origin", "Flying from which airport or city?", _airport),
        "dest": Need("dest", "Flying to which airport or city?", _airport),
        "date": _date_field("date", "On which day?"),
        "passengers": Need(
            "passengers", "For how many passengers?", _count(1, 9, "passengers"), _PEOPLE
        ),
    },
}
REQUIRED: Mapping[str, tuple[str, ...]] = {s: tuple(f) for s, f in FIELDS.items()}


def today_in(zone: str) -> date:
    try:
        return datetime.now(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        return datetime.now(ZoneInfo("UTC")).date()
