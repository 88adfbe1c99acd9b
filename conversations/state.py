"""What a conversation remembers between turns besides its history."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from conversations.cards import card_buttons
from conversations.replies import ActivityCard


@dataclass
class ConversationState:
    """The last result list (so `details 2` and `More` work) and the last place talked about."""

    results: list[ActivityCard] = field(default_factory=list)
    shown: int = 0
    query: str | None = None
    country: str | None = None
    """ISO code of the country last talked about (a local phone number's country)."""

    def card(self, number: int) -> ActivityCard | None:
        for card in self.results:
            if card.number == number:
                return card
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [
                {k: v for k, v in asdict(card).items() if k != "buttons"} for card in self.results
            ],
            "shown": self.shown,
            "query": self.query,
            "country": self.country,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConversationState:
        if not data:
            return cls()
        cards = []
        for raw in data.get("results", []):
            try:
                card = ActivityCard(**raw)
            except TypeError:
                continue  # a card stored by an older version; dropping it loses nothing
            # Buttons are not stored: they follow from the card (so "More" shows them too).
            cards.append(replace(card, buttons=card_buttons(card.activity_id, card.bookable)))
        country = data.get("country")
        return cls(
            results=cards,
            shown=int(data.get("shown", 0)),
            query=data.get("query"),
            country=country if isinstance(country, str) else None,
        )
