"""Fixtures shared by the front-end and process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.serve_rig import Zygote


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    """One forking interpreter per crash-test module (`serve_rig.Zygote`)."""
    with Zygote.running() as forks:
        yield forks
