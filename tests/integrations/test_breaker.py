"""The per-partner circuit breaker, alone and in front of the sandbox over HTTP."""

from __future__ import annotations

import httpx
import pytest

from integrations.breaker import CircuitBreaker, CircuitOpen
from integrations.errors import NotFound, PartnerTimeout, ServiceUnavailable
from integrations.outgoing import KeyKind, OutgoingClient
from integrations.retry import Retrier, RetryPolicy
from integrations.sandbox import (
    DEFAULT_SELF_SERVE_KEY,
    ForcedResponse,
    SandboxConfig,
    running_outgoing_sandbox,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_a_run_of_outages_and_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker("outgoing", threshold=3, cooldown_s=30, clock=clock)
    outage = PartnerTimeout("slow", partner="outgoing", phase="read")
    for _ in range(2):
        breaker.before()
        breaker.record(outage)
    breaker.before()
    breaker.record(NotFound(404, None, "no", partner="outgoing"))  # an answer, not an outage
    for _ in range(3):
        breaker.before()
        breaker.record(outage)
    assert breaker.is_open
    with pytest.raises(CircuitOpen):
        breaker.before()
    clock.now = 31
    breaker.before()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before()  # only one at a time
    breaker.record(outage)
    with pytest.raises(CircuitOpen):
        breaker.before()  # a failed probe opens it again
    clock.now = 62
    breaker.before()
    breaker.record(None)
    assert not breaker.is_open
    breaker.before()


async def test_ten_503s_open_it_and_then_nothing_reaches_the_partner() -> None:
    async with (
        running_outgoing_sandbox(SandboxConfig.fast()) as sandbox,
        httpx.AsyncClient() as http,
    ):
        sandbox.state.force(*(ForcedResponse("/partner/v1/auth", status=503) for _ in range(10)))
        clock = Clock()
        breaker = CircuitBreaker("outgoing", threshold=10, cooldown_s=30, clock=clock)
        client = OutgoingClient(
            http,
            api_key=DEFAULT_SELF_SERVE_KEY,
            key_kind=KeyKind.SELF_SERVE,
            base_url=sandbox.base_url,
            breaker=breaker,
            retrier=Retrier(RetryPolicy(max_attempts=1)),
        )
        for _ in range(10):
            with pytest.raises(ServiceUnavailable):
                await client.check_auth()
        seen = len(sandbox.state.requests_to("/partner/v1/auth"))
        with pytest.raises(CircuitOpen):
            await client.check_auth()
        assert len(sandbox.state.requests_to("/partner/v1/auth")) == seen
        clock.now = 31
        assert await client.check_auth() == {"ok": True}  # the probe succeeds and closes it
        assert not breaker.is_open
