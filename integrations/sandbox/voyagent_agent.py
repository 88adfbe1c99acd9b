"""The Voyagent sandbox's scripted agency agent: deterministic turns streamed as events.

The first message of a session (the enquiry brief) is answered with a greeting that restates
the trip, a flight search and a seat hold to approve; the turn pauses there. A later POST
with the approval's decision resumes it to ``final``. Later messages get a short answer; a
hotel question asks for another approval, and "itinerary" says the itinerary is ready.
Messages are data here, never instructions: they are only quoted back, shortened.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from integrations.sandbox.voyagent_state import Account, ChatSession, VoyagentSandboxState

__all__ = [
    "FARE_EUR",
    "HOTEL",
    "HOTEL_NIGHT_EUR",
    "Trip",
    "chunks",
    "euros",
    "play_turn",
    "trip_of",
]

FARE_EUR = 310
HOTEL = "Memmo Alfama"
HOTEL_NIGHT_EUR = 180
_CITIES = ("Lisbon", "Porto", "Madrid", "Barcelona", "Seville", "Rome", "Paris", "London")
_WORDS_PER_CHUNK = 4


@dataclass(frozen=True)
class Trip:
    """The trip as the agency understood it (from the enquiry, or from the brief)."""

    origin: str
    destination: str
    depart: date | None
    back: date | None
    travellers: int
    budget: dict[str, str] | None

    @property
    def nights(self) -> int:
        if self.depart and self.back and self.back > self.depart:
            return (self.back - self.depart).days
        return 5

    def dates(self) -> str:
        if self.depart and self.back:
            return f"{self.depart.isoformat()} to {self.back.isoformat()}"
        if self.depart:
            return f"leaving {self.depart.isoformat()}"
        return "dates to be confirmed"


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def trip_of(state: VoyagentSandboxState, session: ChatSession) -> Trip:
    enquiry = state.enquiries.get(session.enquiry_id or "")
    if enquiry is not None:
        return Trip(
            origin=enquiry.get("origin") or "London",
            destination=enquiry["destination"],
            depart=_date(enquiry.get("depart_date")),
            back=_date(enquiry.get("return_date")),
            travellers=enquiry.get("travellers") or 2,
            budget=enquiry.get("budget"),
        )
    brief = session.messages[0]["message"] if session.messages else ""
    city = next((c for c in _CITIES if c.casefold() in brief.casefold()), "Lisbon")
    count = re.search(r"\bfor (\d{1,2})\b", brief)
    travellers = int(count.group(1)) if count and 1 <= int(count.group(1)) <= 50 else 2
    return Trip("London", city, None, None, travellers, None)


def euros(amount: int) -> str:
    return f"€{amount:,}"


def chunks(text: str) -> list[str]:
    """``text`` in pieces of a few words that join back to exactly ``text``."""
    words = re.findall(r"\s*\S+(?:\s+$)?", text)
    step = _WORDS_PER_CHUNK
    return ["".join(words[i : i + step]) for i in range(0, len(words), step)]


def _quoted(message: str) -> str:
    short = " ".join(message.split())
    return short if len(short) <= 80 else short[:77].rstrip() + "…"


class _Turn:
    def __init__(self, state: VoyagentSandboxState, session: ChatSession, actor: Account) -> None:
        self.state, self.session, self.actor = state, session, actor
        self.trip = trip_of(state, session)
        self.text: list[str] = []
        self.first = True

    async def emit(self, kind: str, **fields: Any) -> None:
        if not self.first:
            await asyncio.sleep(self.state.config.delta_delay_s)
        self.first = False
        self.session.emit({"kind": kind, **fields})

    async def say(self, text: str) -> None:
        if self.text and not self.text[-1].endswith((" ", "\n")):
            text = " " + text
        for piece in chunks(text):
            await self.emit("text_delta", text=piece)
            self.text.append(piece)

    async def ask(self, summary: str, facts: dict[str, Any]) -> None:
        row = self.state.new_approval(self.session, summary, facts, self.actor)
        self.session.paused_on = row["id"]
        await self.emit(
            "approval_request",
            approval_id=row["id"],
            approval_summary=summary,
            expires_at=row["expires_at"],
        )

    async def play(self, message: str, approvals: dict[str, bool]) -> None:
        for approval_id, granted in approvals.items():
            problem = self.decide(approval_id, granted)
            if problem is not None:
                await self.emit("error", message=problem)
                return
            kind = "approval_granted" if granted else "approval_denied"
            await self.emit(kind, approval_id=approval_id)
            if approval_id == self.session.paused_on:
                self.session.paused_on = None
                await self.say(self.carry_on(approval_id, granted))
        if message.strip():
            if not self.session.greeted:
                self.session.greeted = True
                await self.greet()
                return
            if await self.answer(message):
                return
        await self.emit("final", text="".join(self.text))

    def decide(self, approval_id: str, granted: bool) -> str | None:
        """Apply a decision from the ``approvals`` map; the problem with it, if any."""
        state, session = self.state, self.session
        state.sweep()
        row = state.approvals.get(approval_id)
        if row is None or row["session_id"] != session.id:
            return f"approval {approval_id} is not part of this session"
        if row["status"] == "pending":
            state.resolve(approval_id, granted, self.actor)
            return None
        if row["status"] == "expired":
            if session.paused_on == approval_id:
                session.paused_on = None
            return f"approval {approval_id} is expired"
        if row["status"] != ("granted" if granted else "rejected"):
            return f"approval {approval_id} was already {row['status']}"
        return None

    def carry_on(self, approval_id: str, granted: bool) -> str:
        if not granted:
            return "No problem, I released the hold. Tell me what you would like to change."
        facts = self.state.approval_facts[approval_id]
        if facts["kind"] == "hotel":
            return (
                f"The hotel is held: {HOTEL}, {self.trip.nights} nights. Ask me for the "
                "itinerary whenever you like."
            )
        return (
            f"Seats held on TAP for {self.trip.travellers} travellers, "
            f"{euros(facts['amount'])} in all. Shall I look at hotels next?"
        )

    async def greet(self) -> None:
        trip = self.trip
        budget = ""
        if trip.budget:
            budget = f", a budget of {trip.budget['amount']} {trip.budget['currency']}"
        await self.say(
            f"Hello from {self.actor.agency_name}! Here is the trip as we understood it: "
            f"{trip.travellers} travellers from {trip.origin} to {trip.destination}, "
            f"{trip.dates()}{budget}. I am checking flights now."
        )
        search = {
            "origin": trip.origin,
            "destination": trip.destination,
            "depart_date": trip.depart.isoformat() if trip.depart else None,
            "return_date": trip.back.isoformat() if trip.back else None,
            "adults": trip.travellers,
        }
        await self.emit("tool_use", tool="search_flights", input=search)
        offer = {"carrier": "TAP", "fare_per_person": f"{FARE_EUR}.00", "currency": "EUR"}
        await self.emit("tool_result", tool="search_flights", output={"offers": [offer]})
        total = FARE_EUR * trip.travellers
        await self.say(f"TAP has seats at {euros(FARE_EUR)} per person.")
        summary = (
            f"Hold {trip.travellers} seats {trip.origin} ⇄ {trip.destination} on TAP "
            f"({trip.dates()}), {euros(total)} total"
        )
        await self.ask(summary, {"kind": "flight", "amount": total})

    async def answer(self, message: str) -> bool:
        """Answer a later message; True when the turn pauses on a new approval."""
        trip, words = self.trip, message.casefold()
        if "hotel" in words:
            await self.say(f"Noted: “{_quoted(message)}”. I am looking at hotels now.")
            search = {"city": trip.destination, "nights": trip.nights, "guests": trip.travellers}
            await self.emit("tool_use", tool="search_hotels", input=search)
            found = {"name": HOTEL, "price_per_night": f"{HOTEL_NIGHT_EUR}.00", "currency": "EUR"}
            await self.emit("tool_result", tool="search_hotels", output={"hotels": [found]})
            total = HOTEL_NIGHT_EUR * trip.nights
            await self.say(f"{HOTEL} has rooms at {euros(HOTEL_NIGHT_EUR)} a night.")
            summary = (
                f"Hold {HOTEL} in {trip.destination} for {trip.nights} nights, "
                f"{trip.travellers} guests, {euros(total)} total"
            )
            await self.ask(summary, {"kind": "hotel", "amount": total})
            return True
        if "itinerary" in words:
            await self.say(
                f"Your itinerary is ready: {trip.nights + 1} days in {trip.destination}, "
                "with every hold you approved."
            )
            return False
        await self.say(f"Noted: “{_quoted(message)}”. I'll include that in the plan.")
        return False


async def play_turn(
    state: VoyagentSandboxState,
    session: ChatSession,
    actor: Account,
    message: str,
    approvals: dict[str, bool],
) -> None:
    """Run one agent turn to its end (final, error or a pause at an approval)."""
    try:
        await _Turn(state, session, actor).play(message, approvals)
    except asyncio.CancelledError:
        raise
    except Exception:  # the wire's synthetic error frame, as the partner sends one
        session.emit({"kind": "error", "message": "the agent failed"})
    finally:
        session.running = False
        session.wake()
