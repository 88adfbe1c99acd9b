"""The one splitter of long text: whatever the platform's measure, every piece fits, no word
is lost or cut (but an endless one), and the words come back in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.split import prefix_within, split_text
from bot.telegram.render import visible_length


def test_pieces_are_cut_at_the_latest_line_break_or_space_that_fits() -> None:
    text = "first paragraph here\n\nsecond line\nthird words go on"
    assert split_text(text, 24) == ["first paragraph here", "second line\nthird words", "go on"]


def test_an_endless_word_is_cut_where_the_limit_falls() -> None:
    assert split_text("a " + "x" * 25, 10) == ["a xxxxxxxx", "xxxxxxxxxx", "xxxxxxx"]


def test_the_measure_is_the_platforms_own() -> None:
    emoji = "😀" * 6  # one character, two UTF-16 units each (what Telegram counts)
    assert split_text(emoji, 6) == [emoji]
    assert split_text(emoji, 6, visible_length) == ["😀" * 3, "😀" * 3]
    assert prefix_within(emoji, 5, visible_length) == "😀" * 2


def test_a_character_longer_than_the_limit_still_makes_progress() -> None:
    assert split_text("😀😀", 1, visible_length) == ["😀", "😀"]


@given(
    text=st.text(st.sampled_from(["a", "b", "😀", " ", "\n", "é"]), max_size=400),
    limit=st.integers(4, 60),
    utf16=st.booleans(),
)
def test_every_piece_fits_and_the_words_come_back(text: str, limit: int, utf16: bool) -> None:
    length = visible_length if utf16 else len
    pieces = split_text(text, limit, length)
    assert all(length(piece) <= limit for piece in pieces)
    assert all(piece == piece.strip() and piece for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
