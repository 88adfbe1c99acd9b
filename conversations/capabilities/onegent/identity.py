"""A traveller's identity for one flight: date of birth, passport number, issuing country.

Asked per flight as a private question (in the person's own chat with the bot), handed to
the reservation job through this process's memory and sent to Onegent once; never written
to the database or a log, and forgotten as soon as Onegent has the job (or after 15 min).
A restart in between loses it on purpose: the job then asks again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from cachetools import TTLCache

from conversations.capabilities.onegent.fields import MONTHS, FieldProblem

IDENTITY_PURPOSE = "reserve.identity"
KEPT_FOR_S = 15 * 60
PROMPT = (
    "For the airline I need your date of birth, passport number and the passport's "
    "issuing country, in one message — e.g. `1990-03-12, X1234567, US`. I send them to "
    "Onegent once, for this flight, and don't keep them."
)


@dataclass(frozen=True)
class TravelIdentity:
    dob: str
    passport_number: str
    passport_country: str

    def __repr__(self) -> str:  # personal data stays out of logs
        return "TravelIdentity(***)"

    __str__ = __repr__

    def to_partner(self) -> dict[str, str]:
        return {
            "dob": self.dob,
            "passport_number": self.passport_number,
            "passport_country": self.passport_country,
        }


def read_identity(text: str, *, today: date) -> TravelIdentity:
    """`1990-03-12, X1234567, US` (or `12 Mar 1990; X1234567; USA`, one per line…)."""
    parts = [p.strip() for p in re.split(r"[,;\n]+", text) if p.strip()]
    if len(parts) != 3:
        raise FieldProblem(
            "Please send all three, separated by commas: date of birth, passport number, "
            "country — e.g. 1990-03-12, X1234567, US."
        )
    born = _birth_date(parts[0], today)
    number = re.sub(r"[\s-]", "", parts[1]).upper()
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise FieldProblem("That passport number doesn't look right (5–20 letters and digits).")
    country = parts[2].strip(" .").upper()
    if not re.fullmatch(r"[A-Z]{2,3}", country):
        raise FieldProblem("Give the passport's country as its code, e.g. US, GB or DEU.")
    return TravelIdentity(born.isoformat(), number, country)


def _birth_date(text: str, today: date) -> date:
    words = " ".join(text.lower().replace(".", " ").split())
    found: date | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", words):
            found = date.fromisoformat(words)
        elif match := re.fullmatch(r"(\d{1,2}) ([a-z]+) (\d{4})|([a-z]+) (\d{1,2}) (\d{4})", words):
            day = int(match.group(1) or match.group(5))
            month = MONTHS.get(match.group(2) or match.group(4) or "")
            if month:
                found = date(int(match.group(3) or match.group(6)), month, day)
    except ValueError:
        raise FieldProblem("That date of birth doesn't exist.") from None
    if found is None:
        raise FieldProblem("Give the date of birth as YYYY-MM-DD or e.g. 12 Mar 1990.")
    if not date(today.year - 120, 1, 1) <= found < today:
        raise FieldProblem("That date of birth can't be right.")
    return found


class IdentityVault:
    """This process's short memory of identities given for flight jobs, by job id."""

    def __init__(self) -> None:
        self._held: TTLCache[str, TravelIdentity] = TTLCache(maxsize=1024, ttl=KEPT_FOR_S)

    def __repr__(self) -> str:
        return f"IdentityVault({len(self._held)} held)"

    def hold(self, job_id: str, identity: TravelIdentity) -> None:
        self._held[job_id] = identity

    def get(self, job_id: str) -> TravelIdentity | None:
        return self._held.get(job_id)

    def forget(self, job_id: str) -> None:
        self._held.pop(job_id, None)
