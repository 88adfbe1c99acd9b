"""A trip as it will be shared with the agency: what the person said, checked, and what is
still missing (asked as questions before anything is shared)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from conversations.cards import clip
from integrations.voyagent import EnquiryCreate, Money

MISSING_ORDER = ("travellers", "when", "budget")
PROMPTS = {
    "travellers": "How many people are travelling?",
    "when": "When would you like to go, and for how long? (e.g. “5 days in mid-May”)",
    "budget": "What budget should the agency plan for, in total? (e.g. “€3,000”, or "
    "“no fixed budget”)",
}
_CURRENCY = {"€": "EUR", "$": "USD", "£": "GBP", "eur": "EUR", "usd": "USD", "gbp": "GBP"}
_MONEY = re.compile(
    r"^\s*(?P<pre>[€$£]|eur|usd|gbp)?\s*(?P<amount>\d[\d,. ]*)\s*(?P<post>[€$£]|eur|usd|gbp)?\s*$",
    re.IGNORECASE,
)
NO_BUDGET = frozenset({"no budget", "no fixed budget", "none", "flexible", "any", "open"})


class TripProblem(ValueError):
    """An answer that does not fit; its text says what would."""


def read_travellers(text: str) -> int:
    found = re.search(r"\d{1,3}", text)
    if found is None:
        raise TripProblem("Please give the number of travellers as a number.")
    count = int(found.group())
    if not 1 <= count <= 50:
        raise TripProblem("The agency plans trips for 1 to 50 travellers.")
    return count


def read_budget(text: str) -> str:
    words = " ".join(text.lower().split()).strip(" .!")
    if words in NO_BUDGET:
        return "no fixed budget"
    if not words:
        raise TripProblem("Please give a total budget, or say “no fixed budget”.")
    return clip(text.strip(), 80) or ""


def budget_money(budget: str | None) -> Money | None:
    """`€3,000` → 3000.00 EUR; None when the words carry no plain amount."""
    if not budget:
        return None
    found = _MONEY.match(budget)
    if found is None:
        return None
    sign = (found.group("pre") or found.group("post") or "").lower()
    currency = _CURRENCY.get(sign)
    digits = found.group("amount").replace(",", "").replace(" ", "")
    if currency is None or not re.fullmatch(r"\d+(\.\d{1,2})?", digits):
        return None
    return Money(amount=f"{float(digits):.2f}", currency=currency)


@dataclass(frozen=True)
class Trip:
    destination: str
    origin: str | None = None
    when: str | None = None
    depart_date: str | None = None
    return_date: str | None = None
    travellers: int | None = None
    budget: str | None = None
    needs: str | None = None
    """What makes it agency work: several cities, a group, visas…"""

    def missing(self) -> tuple[str, ...]:
        have = {
            "travellers": self.travellers is not None,
            "when": bool(self.when or self.depart_date),
            "budget": bool(self.budget),
        }
        return tuple(name for name in MISSING_ORDER if not have[name])

    def with_answer(self, name: str, text: str) -> Trip:
        if name == "travellers":
            return replace(self, travellers=read_travellers(text))
        if name == "budget":
            return replace(self, budget=read_budget(text))
        words = clip(text.strip(), 200)
        if not words:
            raise TripProblem("Please say when you would like to travel.")
        return replace(self, when=words)

    def title(self) -> str:
        return f"Trip to {self.destination}"

    def lines(self) -> list[str]:
        dates = " → ".join(d for d in (self.depart_date, self.return_date) if d)
        rows = [
            ("Destination", self.destination),
            ("From", self.origin),
            ("When", " · ".join(x for x in (self.when, dates) if x) or None),
            ("Travellers", str(self.travellers) if self.travellers else None),
            ("Budget", self.budget),
            ("Needs", self.needs),
        ]
        return [f"{name}: {value}" for name, value in rows if value]

    def enquiry(self, *, reference: str, customer_name: str | None) -> EnquiryCreate:
        notes = "\n".join(x for x in (f"When: {self.when}" if self.when else None, self.needs) if x)
        return EnquiryCreate(
            destination=self.destination,
            origin=self.origin,
            depart_date=date.fromisoformat(self.depart_date) if self.depart_date else None,
            return_date=date.fromisoformat(self.return_date) if self.return_date else None,
            travellers=self.travellers,
            budget=budget_money(self.budget),
            notes=clip(notes, 4000) or None,
            customer_name=customer_name,
            reference=reference,
        )

    def brief(self) -> str:
        """The first message to the agency's agent: the trip in plain words."""
        return "New trip request from our concierge.\n" + "\n".join(self.lines())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trip:
        fields: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**fields)
