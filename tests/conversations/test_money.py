"""One money format: cents and major units alike, equal ends, free, locales, odd codes."""

from __future__ import annotations

from decimal import Decimal

from conversations.money import from_cents, from_major, money, money_range, price


def test_usd_reads_with_its_symbol_and_keeps_cents() -> None:
    assert money(from_major(39.5), "USD") == "$39.50"
    assert money(from_major(40), "usd") == "$40.00"
    assert money(from_cents(4500), "USD") == "$45.00"
    assert money(from_cents(1), "USD") == "$0.01"


def test_cents_and_major_units_agree_without_float_surprises() -> None:
    assert from_cents(3950) == from_major(39.5) == Decimal("39.50")
    assert from_major(0.1 + 0.2) == Decimal("0.30")
    assert money(from_major(17.25 * 2), "USD") == "$34.50"


def test_other_currencies_use_their_own_symbol() -> None:
    assert money(from_major(39.5), "EUR") == "€39.50"
    assert money(from_major(39.5), "GBP") == "£39.50"


def test_locales_read_the_amount_their_way() -> None:
    assert money(from_major(1234.5), "EUR", "de") == "1.234,50\xa0€"
    assert money(from_major(39.5), "GBP", "en_GB") == "£39.50"
    assert money(from_major(39.5), "USD", "en-GB") == "US$39.50"
    assert money(from_major(39.5), "EUR", "fr") == "39,50\xa0€"
    assert money(from_major(39.5), "USD", "not-a-locale") == "$39.50"


def test_an_unknown_currency_does_not_raise() -> None:
    assert money(from_major(39.5), "XYZ") == "39.50 XYZ"
    assert money(from_major(39.5), "") == "39.50"
    assert money(from_major(39.5), "XYZ", "de") == "39.50 XYZ"


def test_ranges_collapse_equal_ends_and_say_free() -> None:
    assert money_range(from_major(40), from_major(40.0), "USD") == "$40.00"
    assert money_range(from_major(0), from_major(0), "USD") == "Free"
    assert money_range(from_major(0), from_major(50), "USD") == "Free–$50.00"
    assert money_range(from_major(50), from_major(17.25), "USD") == "$17.25–$50.00"
    assert price(from_major(0), "EUR") == "Free"
