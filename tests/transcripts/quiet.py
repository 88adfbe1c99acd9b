"""Waiting until a running front-end has nothing more to say: its turns, its jobs (a search
answers after the turn, a booking's result arrives by webhook) and its last calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.services import Services

STILL_S = 0.12
"""How long the recorded calls must stay unchanged to count as the end of an answer."""
JOBS_S = 15.0


async def until_quiet(
    services: Services, settle: Callable[[], Awaitable[None]], calls: Callable[[], int]
) -> None:
    """`settle` drains the front-end's work; done once nothing new is called for `STILL_S`."""
    seen = -1
    while seen != calls():
        seen = calls()
        await asyncio.sleep(STILL_S)
        await settle()
        await services.settle_jobs(JOBS_S)
        await settle()
