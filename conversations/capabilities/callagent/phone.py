"""Phone numbers the concierge may dial: normalised to E.164, refused before any confirmation
when they would cost the person money or reach emergency services.

A local number ("020 7946 0958") needs a country: the one given, or the conversation's last
one; without either the model asks. Premium-rate and shared-cost numbers are refused, and so
is anything that connects to emergency services — a voice agent must never call 911.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo

__all__ = ["DialableNumber", "NumberRefused", "dialable", "human"]

_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number (calls to it are charged extra)",
    PhoneNumberType.SHARED_COST: "a shared-cost number (the caller pays part of the cost)",
}


class NumberRefused(ValueError):
    """Not a number the concierge will dial; the message says why, for people.

    `needs_country` marks a local number that is fine once its country is known."""

    def __init__(self, message: str, *, needs_country: bool = False) -> None:
        super().__init__(message)
        self.needs_country = needs_country


@dataclass(frozen=True)
class DialableNumber:
    e164: str
    region: str | None
    """ISO 3166 alpha-2 of the number (e.g. "US"), when the number says it."""

    @property
    def shown(self) -> str:
        return human(self.e164)


def _country(country: str | None) -> str | None:
    if country is None:
        return None
    code = country.strip().upper()
    return code if re.fullmatch(r"[A-Z]{2}", code) else None


def dialable(raw: str, *, country: str | None = None) -> DialableNumber:
    """`raw` as an E.164 number the concierge may call, or `NumberRefused` saying why."""
    text = raw.strip()
    region = _country(country)
    if not re.search(r"\d", text):
        raise NumberRefused("That doesn't look like a phone number.")
    digits = re.sub(r"\D", "", text)
    # A short local number: checked against the country given and the common codes.
    if not text.startswith("+") and any(
        shortnumberinfo.connects_to_emergency_number(digits, where)
        for where in {region or "US", "US", "GB"}
    ):
        raise NumberRefused("I can't place calls to emergency numbers.")
    if not text.startswith("+") and region is None:
        raise NumberRefused(
            "Which country is that number in? Give it with its country code (+44 …) or "
            "tell me the country.",
            needs_country=True,
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise NumberRefused("That doesn't look like a phone number I can dial.") from None
    number_region = phonenumbers.region_code_for_number(number)
    national = str(number.national_number)
    if number_region and shortnumberinfo.is_emergency_number(national, number_region):
        raise NumberRefused("I can't place calls to emergency numbers.")
    if not phonenumbers.is_valid_number(number):
        raise NumberRefused(
            f"{phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)} isn't a "
            "valid phone number; check the digits and the country code."
        )
    refused = _REFUSED_TYPES.get(phonenumbers.number_type(number))
    if refused is not None:
        raise NumberRefused(f"I won't call that: it is {refused}.")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return DialableNumber(e164, number_region)


def human(e164: str) -> str:
    """`+12125550100` → `+1 212-555-0100`: how people read it."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
