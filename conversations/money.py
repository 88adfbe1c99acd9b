"""Amounts as people read them: one format for every price, total and charge the bot shows.

Partners send amounts two ways, cents (ints) and major units (floats); both become a
`Decimal` once here, so a float such as 39.5 never prints as 39.499…. Whole amounts keep
their cents ("$40.00") everywhere, so a card, a detail and a confirmation read alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.core import Locale, UnknownLocaleError
from babel.numbers import UnknownCurrencyError, format_currency, is_currency

DEFAULT_LOCALE = "en_US"
FREE = "Free"
CENT = Decimal("0.01")


def from_cents(cents: int) -> Decimal:
    """Cents (as bookings and charges carry them) → major units."""
    return (Decimal(cents) / 100).quantize(CENT)


def from_major(amount: float | Decimal | int) -> Decimal:
    """Major units (as ticket prices carry them) → an exact two-place amount."""
    return Decimal(str(amount)).quantize(CENT)


def _locale(locale: str | None) -> Locale:
    """The person's locale ("de", "en-GB", "fr_FR"), or en_US when unknown or unreadable."""
    if locale:
        try:
            return Locale.parse(locale.replace("-", "_"))
        except (ValueError, TypeError, UnknownLocaleError):
            pass
    return Locale.parse(DEFAULT_LOCALE)


@lru_cache(maxsize=4096)  # babel parses the locale's pattern on every call; prices repeat
def money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """`amount` (major units, see `from_cents`/`from_major`) in `currency`: "$39.50",
    "39,50 €" for de; an unknown code reads "39.50 XYZ" rather than failing."""
    code = (currency or "").strip().upper()
    where = _locale(locale)
    if is_currency(code, where):
        try:
            return format_currency(amount, code, locale=where, currency_digits=False)
        except (UnknownCurrencyError, InvalidOperation, ValueError):
            pass
    return f"{amount.quantize(CENT)} {code}".rstrip()


def price(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """Like `money`, but zero reads "Free" (ticket prices; totals keep "$0.00")."""
    return FREE if amount == 0 else money(amount, currency, locale)


def money_range(low: Decimal, high: Decimal, currency: str, locale: str | None = None) -> str:
    """ "$40.00" when both ends agree, "Free" for nothing, "Free–$50.00" from zero."""
    low, high = min(low, high), max(low, high)
    if low == high:
        return price(low, currency, locale)
    return f"{price(low, currency, locale)}–{price(high, currency, locale)}"
