"""Everyday phrasing for the offline planner: time words, card references, small typos,
search requests without the word "search", and the closest command for a miss.

Everything here is plain text in, plain text (or a number) out, so the planner stays a
list of commands and these rules can be read and tested on their own.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass

from conversations.capabilities.onegent.fields import FieldProblem, read_time
from conversations.places import PLACES as GAZETTEER

COMMAND_WORDS = (
    "search",
    "find",
    "near",
    "details",
    "book",
    "more",
    "orders",
    "bookings",
    "status",
    "call",
    "reserve",
    "help",
)
_EXAMPLES = {
    "search": "search jazz in Brooklyn",
    "find": "find museums in Paris",
    "near": "near Williamsburg",
    "details": "details 1",
    "book": "book 1",
    "more": "more",
    "orders": "orders",
    "bookings": "orders",
    "status": "status",
    "call": "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm",
    "reserve": "reserve a table for 2 at Le Bernardin tomorrow at 7pm",
    "help": "help",
}
# fmt: off
_AREAS = (
    "Brooklyn", "Manhattan", "New York", "NYC", "San Francisco", "SF", "Paris", "London",
    "Williamsburg", "Bed-Stuy", "Bushwick", "DUMBO", "Park Slope", "Prospect Heights",
    "Prospect Park", "Downtown Brooklyn", "Midtown", "West Village", "Upper East Side",
    "Theater District", "Harlem", "Greenwich Village", "Hayes Valley", "Tenderloin",
    "Mission District", "North Beach", "Outer Richmond", "SoMa", "Golden Gate Park",
    "Embarcadero", "Châtelet", "Montmartre", "Latin Quarter", "Le Marais", "Marais", "Soho",
    "Southwark", "Bankside", "Shoreditch",
)
"""The sandbox catalogue's cities and areas, spelled as people expect to read them."""
TOPICS = frozenset({
    "jazz", "music", "live", "concert", "concerts", "gig", "gigs", "nightlife", "museum",
    "museums", "art", "gallery", "galleries", "culture", "outdoors", "outdoor", "history",
    "sightseeing", "food", "market", "markets", "comedy", "standup", "stand-up", "garden",
    "gardens", "nature", "theater", "theatre", "dinner", "tour", "tours", "boat", "dance",
    "dancing", "bar", "bars", "brunch", "bowling", "kayaking", "broadway", "musical",
    "musicals", "bike", "views", "science", "dj", "picnic", "hike", "hiking", "cruise", "park",
    "parks", "wine", "tasting", "cheese", "shakespeare", "swing", "kids", "family", "drinks",
    "cocktails", "rooftop", "fun", "show", "shows", "play", "plays", "exhibition", "karaoke",
    "festival", "party", "club", "clubs", "opera", "ballet", "cinema", "movie", "movies",
})
"""What people look for: the catalogue's categories, their synonyms, and a few more."""
_PLAIN = frozenset({
    "a", "an", "the", "in", "on", "at", "near", "for", "to", "of", "and", "or", "with", "this",
    "that", "some", "any", "me", "my", "i", "you", "it", "is", "are", "be", "there", "here",
    "what", "whats", "where", "when", "who", "how", "do", "good", "great", "cool", "nice",
    "please", "can", "could", "would", "something", "place", "places", "go", "out", "get",
    "see", "new", "want", "look", "looking", "like", "about", "tell", "show", "bunch", "bard",
    "band", "bands", "game", "games", "love", "life", "lime", "park", "tonight", "today",
    "tomorrow", "weekend", "week", "next", "night", "evening", "morning", "afternoon", "one",
})
"""Everyday words that are never "corrected" into a command, topic or place."""
# fmt: on
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_PART = r"(?:\s+(?:night|evening|morning|afternoon))?"
_TIME = re.compile(
    rf"(?<![\w-])(?:(?:on|for)\s+)?(?:"
    rf"tonight|today{_PART}|tomorrow{_PART}|this\s+(?:coming\s+)?(?:weekend|week|evening"
    rf"|afternoon|morning)|next\s+(?:week|weekend)|(?:over\s+)?the\s+weekend"
    rf"|(?:(?:this|next|coming)\s+)?{_DAYS}{_PART}"
    rf")(?![\w-])",
    re.I,
)
_LEADING = re.compile(r"^(?:on|for)\s+(?=(?:this|next|the|tonight|today|tomorrow)\b)", re.I)
"""“on this weekend” reads as “this weekend”; “on friday” stays as it is."""
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
REFERENCE = (
    r"(?:the\s+)?(?:#\s*|no\.?\s*|number\s+|option\s+|result\s+|card\s+)?"
    rf"(?P<ref>\d{{1,3}}(?:st|nd|rd|th)?|{'|'.join(_ORDINALS)})"
    r"(?:\s+(?:one|result|option|card))?"
)
"""“2”, “#2”, “the 2nd”, “number 2”, “the second one”: a result card by its number."""
_DETAILS = re.compile(
    r"^(?:(?:tell\s+me\s+)?more\s+(?:about|on)\s+|details?\s+(?:(?:of|for|on|about)\s+)?"
    r"|info\s+(?:(?:on|about|for)\s+)?|show\s+(?:me\s+)?|(?:what|how)\s+about\s+|open\s+)?"
    rf"{REFERENCE}$",
    re.I,
)
_BOOK_REFERENCE = re.compile(
    rf"^(?:i'?ll\s+take\s+|let'?s\s+book\s+|please\s+book\s+|book\s+(?:me\s+)?){REFERENCE}"
    r"(?P<rest>(?:\s+.*)?)$",
    re.I,
)
_BOOK_IT = re.compile(
    r"^(?:(?:yes|ok|okay|great|please|let'?s|i'?d\s+like\s+to|i\s+want\s+to)[,\s]+)?"
    r"book(?:\s+(?:it|this|that)(?:\s+one)?)?(?:\s+(?:please|now|for\s+me))?$",
    re.I,
)
_FILLERS = re.compile(
    r"^(?:(?:hey|so|ok|okay|um|please)[,\s]+)?(?:"
    r"search(?:\s+for)?|find(?:\s+me)?|"
    r"(?:can|could)\s+you\s+(?:find|show|recommend|suggest)(?:\s+me)?"
    r"|(?:i'?m|im|i\s+am)\s+looking\s+for|looking\s+for|look\s+for"
    r"|i\s+(?:want|wanna)(?:\s+to)?(?:\s+(?:see|do|go\s+to|hear|find))?"
    r"|i'?d\s+like(?:\s+to)?(?:\s+(?:see|do|go\s+to|hear|find))?"
    r"|i\s+would\s+like(?:\s+to)?(?:\s+(?:see|do|go\s+to|hear|find))?"
    r"|show\s+me|get\s+me|recommend(?:\s+me)?|suggest"
    r"|(?:are|is)\s+there(?:\s+any)?|got\s+any|any|anything"
    r"|what'?s(?:\s+(?:on|happening|good))?|what\s+is\s+(?:on|happening|good)"
    r"|what\s+(?:can|should)\s+(?:i|we)\s+do|where\s+can\s+(?:i|we)\s+(?:see|find|go\s+to|hear)"
    r"|(?:some\s+)?ideas\s+for"
    r")(?:\s+|$)",
    re.I,
)
_PLACE_SPLIT = re.compile(
    r"^(?P<what>.*?)\s*\b(?:in|near|around)\s+(?P<where>[^,]+(?:,[^,]+)?)$", re.I
)
_NOT_SEARCHES = frozenset({"book", "call", "phone", "ring", "reserve", "cancel"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_PLACES = {name.lower(): name for name in _AREAS} | {
    name: name.title() for name in GAZETTEER if name not in {n.lower() for n in _AREAS}
}


def close_word(word: str, vocabulary: frozenset[str] | tuple[str, ...]) -> str | None:
    """The word in `vocabulary` that `word` is a small typo of; None unless it clearly is.

    Conservative: a known word is left alone, the first letter must agree, and a short word
    only gains one letter (“jaz” → jazz); a word that merely extends a known one (“dancer”,
    “bard”) is a word of its own."""
    lowered = word.lower()
    if lowered in vocabulary or lowered in _PLAIN or lowered.rstrip("s") in vocabulary:
        return None
    if len(lowered) < 3:
        return None
    for candidate in difflib.get_close_matches(lowered, vocabulary, n=3, cutoff=0.8):
        if candidate[0] != lowered[0] or abs(len(candidate) - len(lowered)) > 2:
            continue
        if lowered.startswith(candidate):
            continue  # a longer word of its own: “dancer”, “bard”
        if len(lowered) <= 4 and len(candidate) != len(lowered) + 1:
            continue
        return candidate
    return None


def fix_command_word(text: str) -> str:
    """“serch jazz” → “search jazz”, “detials 2” → “details 2”: the first word only."""
    first, _, rest = text.partition(" ")
    fixed = close_word(first, COMMAND_WORDS)
    return f"{fixed} {rest}".strip() if fixed else text


def fix_topics(text: str) -> str:
    """Typos of known topics inside a search: “jaz” → jazz."""
    return _WORD.sub(lambda m: close_word(m.group(), TOPICS) or m.group(), text)


def known_place(text: str) -> str | None:
    """A place the catalogue or the gazetteer knows, as it is spelled (“brookln” → Brooklyn)."""
    lowered = " ".join(text.lower().split())
    if lowered in _PLACES:
        return _PLACES[lowered]
    if len(lowered) < 4:
        return None
    for candidate in difflib.get_close_matches(lowered, list(_PLACES), n=1, cutoff=0.8):
        if candidate[0] == lowered[0] and lowered not in _PLAIN:
            return _PLACES[candidate]
    return None


def split_time(text: str) -> tuple[str, str]:
    """The text without its time words, and those words: “jazz tonight in Brooklyn” →
    (“jazz in Brooklyn”, “tonight”). Times belong in the search prompt, never the place."""
    found = [_LEADING.sub("", m.group().strip()) for m in _TIME.finditer(text)]
    rest = " ".join(_TIME.sub(" ", text).split())
    return rest, " ".join(found)


def reference(text: str) -> int | None:
    """The card number in a reference such as “the first one” or “#2”."""
    raw = text.lower()
    if raw in _ORDINALS:
        return _ORDINALS[raw]
    digits = re.match(r"\d+", raw)
    return int(digits.group()) if digits else None


def details_number(command: str) -> int | None:
    """“the first one”, “number 3”, “tell me more about 2” → that card's number."""
    match = _DETAILS.match(command)
    return reference(match["ref"]) if match else None


def book_reference(command: str) -> str | None:
    """“book the first one” → “book 1” (what follows the reference is kept)."""
    match = _BOOK_REFERENCE.match(command)
    if match is None:
        return None
    return f"book {reference(match['ref'])}{match['rest']}"


def is_book_it(command: str) -> bool:
    """“book it”, “book this one”, “let's book it”: the activity whose details were shown."""
    return _BOOK_IT.match(command) is not None


@dataclass(frozen=True)
class Search:
    prompt: str
    location: str | None = None

    def args(self) -> dict[str, str]:
        return {"prompt": self.prompt} | ({"location": self.location} if self.location else {})


def search_of(what: str, where: str | None, when: str) -> Search:
    """A search with typos of topics and places fixed and the time words in the prompt."""
    prompt = " ".join(part for part in (fix_topics(what).strip(), when) if part)
    if not what.strip():
        prompt = " ".join(("things to do", when)).strip()
    place = (known_place(where) or where.strip()) if where else None
    return Search(prompt, place or None)


def everyday_search(command: str) -> Search | None:
    """A request for things to do said without “search”: “something fun tonight”, “any jazz
    in brooklyn?”, “I want to see comedy”, “what's on this weekend”; None when it isn't one."""
    first, _, tail = command.partition(" ")
    if fixed := close_word(first, ("search", "find")):
        command = f"{fixed} {tail}"
    rest, when = split_time(command)
    stripped = _FILLERS.sub("", rest, count=1).strip()
    if stripped.split(" ", 1)[0].lower() in _NOT_SEARCHES:
        return None
    had_filler = stripped != rest
    what, where = stripped, None
    if match := _PLACE_SPLIT.match(stripped):
        what, where = match["what"], match["where"]
    elif place := known_place(stripped):
        what, where = "", place
    topics = {close_word(w, TOPICS) or w.lower() for w in _WORD.findall(what)} & TOPICS
    place = known_place(where) if where else None
    if topics or (had_filler and (what or when or where)) or (place and not what):
        return search_of(what, where, when)
    if when and not what.strip():
        return search_of("", where, when)
    return None


def suggestion(command: str) -> str:
    """One line for a message that matched nothing, with the closest command if any."""
    first = command.split(" ", 1)[0].lower()
    close = difflib.get_close_matches(first, COMMAND_WORDS, n=1, cutoff=0.6)
    if close and first not in _PLAIN:
        return f"Sorry, I didn't get that. Did you mean `{_EXAMPLES[close[0]]}`?"
    return "Sorry, I didn't get that. Try `search <what> in <where>`, or `help`."


_MAKE_EVENT = re.compile(
    r"^(?:please\s+)?(?:make|turn)\s+(?:this|this\s+(?:channel|chat|group))(?:\s+into)?\s+an?\s+"
    r"event(?:\s+for\s+(?P<what>.+))?$",
    re.I,
)
_WEEKDAY_OWNER = re.compile(
    r"^(?P<day>today|tomorrow|(?:mon|tues|wednes|thurs|fri|satur|sun)day)'s\s+(?P<rest>.+)$",
    re.I,
)
_ADD_EVERYONE = frozenset(
    {"add everyone", "add everyone here", "add everybody", "add everybody here"}
    | {"add all members", "add the members", "import attendees", "add attendees"}
)
_RUN_MATCHING = frozenset({"run matching", "run the matching", "match us", "start matching"})
_MY_MATCHES = frozenset(
    {"who should i meet", "my matches", "show my matches", "who should i talk to"}
    | {"my introductions", "introductions"}
)
_THEIR_MATCHES = re.compile(r"^who should (?P<who>.+?) meet$", re.I)
_REVIEWS = frozenset({"reviews", "review queue", "identity reviews", "show reviews"})
_DONT_SHARE = frozenset(
    {"don't share me", "dont share me", "do not share me", "leave the event"}
    | {"take me out of the event", "remove me from the event", "opt me out"}
)
_SHARE = frozenset({"share me", "share me again", "count me in", "add me back"})


def event_request(command: str) -> tuple[str, dict[str, object]] | None:
    """An Events command ("make this an event for Friday's offsite", "add everyone",
    "run matching", "who should I meet", "reviews", "don't share me") as (tool, args)."""
    lowered = command.lower().strip().rstrip("?!. ")
    if match := _MAKE_EVENT.match(lowered):
        what = (match["what"] or "").strip()
        args: dict[str, object] = {}
        original = command.strip().rstrip("?!. ")
        if what:
            what = original[len(original) - len(what) :].strip()
            if owner := _WEEKDAY_OWNER.match(what):
                args["start_date"] = owner["day"].lower()
        args["title"] = (what[:1].upper() + what[1:]) if what else "Our event"
        return "create_event", args
    if lowered in _ADD_EVERYONE:
        return "import_attendees", {}
    if lowered in _RUN_MATCHING:
        return "run_matching", {}
    if lowered in _MY_MATCHES:
        return "my_matches", {}
    if match := _THEIR_MATCHES.match(lowered):
        return "my_matches", {"member": match["who"]}
    if lowered in _REVIEWS:
        return "review_queue", {}
    if lowered in _DONT_SHARE:
        return "event_sharing", {"share": False}
    if lowered in _SHARE:
        return "event_sharing", {"share": True}
    return None


_AGENCY = re.compile(
    r"^(?:please\s+)?(?:ask|get|have)\s+the\s+(?:travel\s+)?agency(?:\s+to)?\s+(?P<what>.+)$",
    re.I,
)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_AGENCY_PLACE = re.compile(
    rf"\b(?:in|to)\s+(?!(?:{_MONTHS})\b)(?P<place>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)"
)
_AGENCY_PARTY = re.compile(r"\bfor\s+(?P<n>\d{1,2})\b(?!\s*(?:days|nights|weeks))", re.I)
_AGENCY_SPAN = re.compile(r"\b\d{1,2}\s+(?:days|nights|weeks)\b", re.I)
_AGENCY_MONTH = re.compile(rf"\b(?:(?:early|mid|late)[- ])?(?:{_MONTHS})\b", re.I)
_AGENCY_BUDGET = re.compile(
    r"\b(?:under|budget(?:\s+of)?|up\s+to|max)\s+(?P<money>[€$£]\s?\d[\d,]*|\d[\d,]*\s?(?:eur|usd|gbp))",
    re.I,
)
_AGENCY_REPORT = {
    "agency itinerary": "itinerary",
    "the agency's itinerary": "itinerary",
    "itinerary from the agency": "itinerary",
    "agency audit": "audit_export",
    "agency audit export": "audit_export",
    "export the agency audit log": "audit_export",
}


def agency_request(command: str) -> tuple[str, dict[str, object]] | None:
    """A travel agency command ("ask the agency to plan 5 days in Lisbon for 4 in May",
    "agency itinerary", "agency audit export") as (tool, args)."""
    lowered = command.lower().strip().rstrip("?!. ")
    if lowered in _AGENCY_REPORT:
        return "agency_report", {"report": _AGENCY_REPORT[lowered]}
    match = _AGENCY.match(command.strip().rstrip("?!. "))
    if match is None:
        return None
    what = match["what"]
    place = _AGENCY_PLACE.search(what)
    args: dict[str, object] = {"needs": what[:2000]}
    if place:
        args["destination"] = place["place"]
    if party := _AGENCY_PARTY.search(what):
        args["travellers"] = int(party["n"])
    span, month = _AGENCY_SPAN.search(what), _AGENCY_MONTH.search(what)
    if span or month:
        args["when"] = " in ".join(m.group(0) for m in (span, month) if m)
    if budget := _AGENCY_BUDGET.search(what):
        args["budget"] = budget["money"]
    return "ask_agency", args


_PLAN = re.compile(
    r"^(?:/?plan|let'?s\s+plan|where\s+(?:do|shall|should)\s+we\s+go)\b[\s,:]*(?P<what>.*)$",
    re.I,
)
_PLAN_BUDGET = re.compile(
    r"\b(?:under|below|less\s+than|max(?:imum)?|up\s+to)\s*[$€£]?\s*(?P<n>\d{1,5}(?:\.\d{1,2})?)",
    re.I,
)
_PLAN_CLOSES = re.compile(
    r"[,;]?\s*\b(?:voting|the\s+vote|vote|poll)\s+(?:closes|ends|until|by)\s+(?:at\s+)?"
    r"(?P<time>\d{1,2}(?::\d{2})?\s*(?:am|pm)?)\b",
    re.I,
)


def plan_request(command: str) -> dict[str, object] | None:
    """A group plan ("plan a night out for us on Friday, live music under $40, voting
    closes at 18:00") as `plan_outing`'s arguments; None when it isn't one."""
    match = _PLAN.match(command.strip().rstrip("?!. "))
    if match is None:
        return None
    what = match["what"]
    args: dict[str, object] = {}
    if closes := _PLAN_CLOSES.search(what):
        with contextlib.suppress(FieldProblem):  # "at 6": which 6? the default deadline
            args["closes_at"] = read_time(closes["time"])
        what = (what[: closes.start()] + what[closes.end() :]).strip(" ,;")
    if budget := _PLAN_BUDGET.search(what):
        args["max_price"] = float(budget["n"])
    args["prompt"] = fix_topics(what)[:300] if len(what) >= 2 else "a night out"
    return args
