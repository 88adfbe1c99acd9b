"""Search and homescreen over the sandbox catalogue: keyword scoring, places, shelves.

Deliberately simple and deterministic: a prompt is split into stemmed keywords (plus a few
synonyms) scored against name, categories, highlights, venue, description and suitability;
a place named in ``location`` or in the prompt (a city, or an area such as "Brooklyn" or
"Williamsburg") narrows the candidates.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import h3

from integrations.outgoing.models import (
    BookingFilter,
    PartnerSearchResult,
    PartnerShelf,
    SearchResponse,
    ShelvesResponse,
)
from integrations.sandbox.catalogue import Activity, Catalogue, City, format_start

__all__ = ["Place", "homescreen", "resolve_place", "search"]

# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "the", "in", "on", "at", "near", "nearby", "around", "by", "for", "to", "of",
    "and", "or", "with", "without", "this", "that", "these", "those", "some", "any", "me", "my",
    "we", "us", "our", "i", "you", "your", "it", "is", "are", "be", "there", "here", "find",
    "show", "search", "looking", "look", "want", "wanna", "need", "what", "whats", "where",
    "when", "which", "who", "how", "things", "thing", "do", "doing", "fun", "event", "events",
    "activity", "activities", "idea", "ideas", "good", "best", "great", "cool", "nice", "tonight",
    "today", "tomorrow", "weekend", "week", "night", "nights", "please", "can", "could", "would",
    "should", "something", "somewhere", "place", "places", "go", "going", "out", "let", "lets",
    "get", "recommend", "recommendation", "recommendations", "suggest", "spot", "spots", "stuff",
    "anything", "see", "visit", "try", "new", "from", "up",
})
# fmt: on

_SYNONYM_GROUPS = (
    {"concert", "music", "gig"},
    {"museum", "art", "gallery"},
    {"kid", "family", "child", "children"},
    {"hike", "hiking", "trail", "walk", "walking"},
    {"food", "market", "brunch", "dinner", "tasting", "eat"},
    {"drink", "wine", "bar", "cocktail"},
    {"comedy", "stand", "comedian", "laugh"},
    {"theater", "theatre", "broadway", "musical", "play"},
    {"outdoor", "outdoors", "park", "garden", "nature"},
    {"view", "views", "observation", "deck", "skyline"},
    {"boat", "cruise", "kayak", "kayaking", "ferry"},
    {"dance", "dancing", "swing", "dj"},
    {"history", "historic", "tour"},
)
_SYNONYMS: dict[str, frozenset[str]] = {}
for _group in _SYNONYM_GROUPS:
    for _word in _group:
        _SYNONYMS[_word] = _SYNONYMS.get(_word, frozenset()) | frozenset(_group)

_FIELD_WEIGHTS = (
    ("name", 3.0),
    ("categories", 3.0),
    ("highlights", 2.0),
    ("venue", 2.0),
    ("suitability", 2.0),
    ("description", 1.0),
    ("area", 1.0),
)


def _fold(text: str) -> str:
    """Lower-case without accents: "Châtelet" -> "chatelet"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", _fold(text))


def _stems(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(_stem(w) for text in texts for w in _words(text))


def _fields(a: Activity) -> dict[str, frozenset[str]]:
    return {
        "name": _stems([a.name]),
        "categories": _stems(a.categories),
        "highlights": _stems(a.highlights),
        "venue": _stems([a.venue]),
        "suitability": _stems(a.suitability),
        "description": _stems([a.short_description]),
        "area": _stems([a.semantic_location]),
    }


# --------------------------------------------------------------------------- places


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved location hint: a whole city, or an area inside one."""

    label: str
    city: City
    area: str | None = None

    def contains(self, activity: Activity) -> bool:
        if activity.city.slug != self.city.slug:
            return False
        return self.area is None or self.area in {_fold(part) for part in activity.areas}


def _phrase_in(phrase: str, text: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text) is not None


def resolve_place(catalogue: Catalogue, text: str) -> tuple[Place | None, frozenset[str]]:
    """Find the most specific place named in ``text``; also return the words it used."""
    folded = _fold(text)
    city_phrases = {
        _fold(alias): city
        for city in catalogue.cities.values()
        for alias in (*city.aliases, city.name)
    }
    areas: dict[str, tuple[str, City, str]] = {}
    for a in catalogue.activities:
        for part in a.semantic_location.split(","):
            area = _fold(part.strip())
            if area in city_phrases:
                continue
            areas[area] = (part.strip(), a.city, area)
            for suffix in (" district", " arrondissement"):
                if area.endswith(suffix) and not area[0].isdigit():
                    areas[area.removesuffix(suffix)] = (part.strip(), a.city, area)
    for phrase in sorted(areas, key=len, reverse=True):
        if _phrase_in(phrase, folded):
            label, city, area = areas[phrase]
            return Place(label=label, city=city, area=area), _stems([phrase])
    for phrase in sorted(city_phrases, key=len, reverse=True):
        if _phrase_in(phrase, folded):
            city = city_phrases[phrase]
            return Place(label=city.name, city=city), _stems([phrase])
    return None, frozenset()


# --------------------------------------------------------------------------- search


def _why(a: Activity, matched: Sequence[str]) -> str:
    parts = []
    if matched:
        parts.append("Matches " + ", ".join(f"“{word}”" for word in matched))
    parts.append(f"{a.categories[0]} at {a.venue} ({a.semantic_location})")
    if a.next_start is not None:
        parts.append(f"next on {format_start(a.next_start, ' at ')}")
    if a.ticket_price is None:
        parts.append("free to walk in")
    else:
        bookable = ", bookable through Outgoing" if a.is_bookable else ""
        parts.append(f"tickets {a.ticket_price.label}{bookable}")
    return "; ".join(parts) + "."


def _result(a: Activity, matched: Sequence[str]) -> PartnerSearchResult:
    return PartnerSearchResult(
        activity_id=a.activity_id,
        name=a.name,
        why=_why(a, matched),
        short_description=a.short_description,
        highlights=list(a.highlights),
        venue=a.venue,
        rating=a.rating,
        next_datetime=a.next_start.isoformat() if a.next_start else None,
        entity_type=a.entity_type,
        picture_url=a.picture_url,
        location=a.location,
    )


def _score(fields: dict[str, frozenset[str]], token: str) -> float:
    related = _SYNONYMS.get(token, frozenset())
    best = 0.0
    for name, weight in _FIELD_WEIGHTS:
        if token in fields[name]:
            best = max(best, weight)
        elif related & fields[name]:
            best = max(best, weight / 2)
    return best


def _coverage(catalogue: Catalogue) -> str:
    names = [c.name for c in catalogue.cities.values()]
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def search(
    catalogue: Catalogue,
    prompt: str,
    location: str | None,
    *,
    default_city: str | None = None,
    limit: int = 8,
) -> SearchResponse:
    place: Place | None = None
    if location and location.strip():
        place, _ = resolve_place(catalogue, location)
        if place is None:
            return SearchResponse(
                message=f"I don't have anything in “{location.strip()}” yet. The sandbox "
                f"covers {_coverage(catalogue)}.",
                results=[],
            )
    prompt_place, used = resolve_place(catalogue, prompt)
    if place is None and prompt_place is None and default_city in catalogue.cities:
        city = catalogue.cities[default_city]
        place = Place(label=city.name, city=city)
    where = f" in {place.label}" if place else ""  # a place named in the prompt is not repeated
    place = place or prompt_place

    originals: dict[str, str] = {}
    for word in _words(prompt):
        stem = _stem(word)
        if word not in _STOPWORDS and stem not in _STOPWORDS and stem not in used:
            originals.setdefault(stem, word)
    fields = {a.activity_id: _fields(a) for a in catalogue.activities}
    known = [t for t in originals if any(_score(f, t) for f in fields.values())]
    candidates = [a for a in catalogue.activities if place is None or place.contains(a)]

    partial = False
    scored: list[tuple[Activity, float, list[str]]] = []
    if not originals:
        ranked = sorted(candidates, key=lambda a: (-(a.rating or 0), a.name))
        scored = [(a, 0.0, []) for a in ranked]
    else:
        for a in candidates:
            per_token = {t: _score(fields[a.activity_id], t) for t in known}
            matched = [originals[t] for t, s in per_token.items() if s > 0]
            scored.append((a, sum(per_token.values()), matched))
        full = [s for s in scored if s[2] and len(s[2]) == len(known)]
        partial = not full
        scored = full or [s for s in scored if s[1] > 0]
        scored.sort(key=lambda s: (-s[1], -(s[0].rating or 0), s[0].name))
    results = [_result(a, matched) for a, _, matched in scored[:limit]]

    if not results:
        message = (
            f"I couldn't find anything for “{prompt}”{where}. Try something broader, like "
            f"“live music” or “museums”, or another area — the sandbox covers "
            f"{_coverage(catalogue)}."
        )
    elif not originals:
        message = f"Here are {len(results)} popular picks{where}. Top pick: {results[0].name}."
    elif partial:
        closest = (
            "is the closest pick" if len(results) == 1 else f"are the {len(results)} closest picks"
        )
        message = f"Nothing matched every part of “{prompt}”{where}; here {closest}."
    else:
        noun = "pick" if len(results) == 1 else "picks"
        message = f"Found {len(results)} {noun} for “{prompt}”{where}. Top pick: {results[0].name}."
    return SearchResponse(message=message, results=results)


# --------------------------------------------------------------------------- homescreen

_Shelf = tuple[str, str, Callable[[Activity, int, datetime], bool]]
_SHELVES: tuple[_Shelf, ...] = (
    ("picked-for-you", "Picked for you", lambda a, boost, now: boost > 0),
    (
        "this-week",
        "Happening this week",
        lambda a, boost, now: a.next_start is not None and a.next_start - now <= timedelta(days=7),
    ),
    (
        "live-music",
        "Live music",
        lambda a, boost, now: bool({"live music", "concert", "jazz"} & set(a.categories)),
    ),
    ("date-night", "Date night", lambda a, boost, now: "date-nights" in a.suitability),
    ("fun-with-kids", "Fun with kids", lambda a, boost, now: "fun-with-kids" in a.suitability),
    ("outdoors", "Get outside", lambda a, boost, now: "outdoor" in a.tags),
    ("indoors", "Indoor picks", lambda a, boost, now: "indoor" in a.tags),
    ("free", "Free & walk-in", lambda a, boost, now: a.is_free),
)


def _passes(a: Activity, booking_filter: BookingFilter) -> bool:
    if booking_filter is BookingFilter.BOOKABLE:
        return a.is_bookable
    if booking_filter is BookingFilter.BOOKABLE_OR_FREE:
        return a.is_bookable or a.is_free
    return True


def homescreen(
    catalogue: Catalogue,
    h3_cell: str,
    *,
    usual_plans: Sequence[str],
    shelved: bool,
    booking_filter: BookingFilter,
    limit: int,
    k_rings: int,
    now: datetime,
    debug: bool = False,
) -> ShelvesResponse:
    lat, lng = h3.cell_to_latlng(h3_cell)
    near = set(h3.grid_disk(h3_cell, k_rings))
    candidates = [a for a in catalogue.activities if a.h3_cell in near]
    city = catalogue.nearest_city(lat, lng)
    if not candidates:
        candidates = [a for a in catalogue.activities if a.city.slug == city.slug]

    plans = set(usual_plans)
    boosts = {a.activity_id: len(plans & set(a.suitability)) for a in candidates}

    def rank(a: Activity) -> tuple[int, float, float]:
        distance = float(h3.great_circle_distance((lat, lng), (a.lat, a.lng), unit="km"))
        start = a.next_start.timestamp() if a.next_start else math.inf
        return (-boosts[a.activity_id], round(distance, 1), start)

    ranked = sorted((a for a in candidates if _passes(a, booking_filter)), key=rank)
    if shelved:
        shelves = []
        for slug, title, belongs in _SHELVES:
            picks = [a for a in ranked if belongs(a, boosts[a.activity_id], now)][:limit]
            if picks:
                activities = [a.to_partner_activity(debug=debug) for a in picks]
                shelves.append(PartnerShelf(slug=slug, display_name=title, activities=activities))
    else:
        activities = [a.to_partner_activity(debug=debug) for a in ranked[:limit]]
        shelves = [
            PartnerShelf(slug="all", display_name=f"Near you in {city.name}", activities=activities)
        ]
    return ShelvesResponse(shelves=shelves, h3_cell=h3_cell, city=city.slug)
