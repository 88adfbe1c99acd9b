"""Whatever arrives at the booking webhook, the answer is 404 and nothing happens.

Hypothesis drives a synchronous test, so the database lives on one event loop in a thread
of its own and each example is submitted to it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.booking.webhook import receive_booking_webhook
from storage import Database, FieldCipher, generate_key, upgrade
from storage.sealing import seal_with

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


@pytest.fixture
def db_on_a_loop(tmp_path: Path) -> Iterator[tuple[LoopThread, Database]]:
    loop = LoopThread()
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    loop.run(upgrade(url))
    db = loop.run(Database.create(url))
    seal_with(db, FieldCipher(generate_key()))
    yield loop, db
    loop.run(db.dispose())
    loop.close()


_ids = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=40)
_payloads = st.fixed_dictionaries(
    {
        "booking_id": _ids,
        "idempotency_key": _ids,
        "status": st.sampled_from(["confirmed", "failed", "pending", "deliverable_ready"]),
        "activity_id": _ids,
        "external_user_id": _ids,
        "tickets": st.just([{"ticket_type_name": "GA", "num_tickets": 1}]),
        "authorization_amount_cents": st.integers(0, 10**6),
        "booking_fee_cents": st.integers(0, 1000),
        "resolved_at": st.just("2026-11-24T10:00:00Z"),
    }
).map(lambda p: json.dumps(p).encode())


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=150), body=st.binary(max_size=300) | _payloads)
def test_any_input_is_refused_cleanly(
    db_on_a_loop: tuple[LoopThread, Database], token: str, body: bytes
) -> None:
    loop, db = db_on_a_loop
    outcome = loop.run(receive_booking_webhook(db, token, body))
    assert outcome.status_code == 404 and not outcome.announced
