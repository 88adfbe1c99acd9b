"""EventsClient against the Events sandbox over real loopback HTTP: every route, cursors,
idempotent imports and runs, chunking under the limits, 413, scopes, the error classes and
correlation ids."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from integrations.events import CODE_ERRORS, EventsClient, ImportLimits
from integrations.events.models import (
    AttendeeInput,
    EventContextUpdate,
    EventCreate,
    MergeRequest,
    SessionCreate,
)
from integrations.events.wire import (
    AttendeeNotFound,
    EventNotFound,
    EventsBadRequest,
    EventsConflict,
    EventsError,
    EventsForbidden,
    EventsNotFound,
    EventsRateLimited,
    EventsUnauthorized,
    IdempotencyKeyConflict,
    InsufficientScope,
    MatchRunNotFound,
    PartnerIdConflict,
    PayloadTooLarge,
)
from integrations.retry import Retrier
from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    DEFAULT_EVENTS_READ_KEY,
    EventsSandboxConfig,
    RunningEventsSandbox,
    running_events_sandbox,
)

EVENT = "summit-2026"


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class Rig:
    sandbox: RunningEventsSandbox
    client: EventsClient
    http: httpx.AsyncClient

    def other(self, key: str) -> EventsClient:
        return EventsClient(self.http, api_key=key, base_url=self.sandbox.base_url)


@contextlib.asynccontextmanager
async def rig(
    config: EventsSandboxConfig | None = None, limits: ImportLimits | None = None
) -> AsyncIterator[Rig]:
    served = running_events_sandbox(config or EventsSandboxConfig.fast())
    async with served as sandbox, httpx.AsyncClient() as http:
        client = EventsClient(
            http,
            api_key=DEFAULT_EVENTS_KEY,
            base_url=sandbox.base_url,
            retrier=Retrier(sleep=_no_sleep),
            import_limits=limits,
        )
        yield Rig(sandbox, client, http)


def people(*names: str, email: str | None = None) -> list[AttendeeInput]:
    return [
        AttendeeInput(
            attendee_id=f"att-{n:04d}",
            name=name,
            email=email,
            raw_data={"needs": "design help", "offers": f"hiring advice {name}", "goal": "hire"},
        )
        for n, name in enumerate(names, start=1)
    ]


async def with_event(client: EventsClient) -> None:
    await client.create_event(
        EventCreate(event_id=EVENT, title="Annual Partner Summit", timezone="America/New_York")
    )


async def test_auth_and_read_only_key_is_detected() -> None:
    async with rig() as r:
        me = await r.client.auth()
        assert me.scopes == ["partner:read", "partner:write"]
        assert await r.client.can_write()
        reader = r.other(DEFAULT_EVENTS_READ_KEY)
        assert not await reader.can_write()
        with pytest.raises(InsufficientScope):
            await reader.create_event(EventCreate(event_id="x", title="X"))


async def test_events_context_sessions_and_id_map() -> None:
    async with rig() as r:
        c = r.client
        await with_event(c)
        with pytest.raises(PartnerIdConflict):
            await with_event(c)
        assert (await c.get_event(EVENT)).title == "Annual Partner Summit"
        updated = await c.update_context(EVENT, EventContextUpdate(objectives="Introductions"))
        assert updated.context.objectives == "Introductions"
        assert (await c.get_context(EVENT)).context.objectives == "Introductions"
        await c.create_session(EVENT, SessionCreate(session_id="keynote", title="Keynote"))
        assert (await c.get_session(EVENT, "keynote")).title == "Keynote"
        assert [s.session_id for s in (await c.list_sessions(EVENT)).items] == ["keynote"]
        assert (await c.id_map("event", EVENT)).mapped
        assert [e.event_id for e in (await c.list_events()).items] == [EVENT]
        with pytest.raises(EventNotFound) as caught:
            await c.get_event("nope")
        assert caught.value.code == "EVENT_NOT_FOUND"


async def test_import_run_matches_and_cursors_followed() -> None:
    async with rig() as r:
        c = r.client
        await with_event(c)
        names = ["Ann", "Bob", "Cid", "Dee", "Eve"]
        [run] = await c.import_attendees(EVENT, people(*names), idempotency_key="imp-1")
        assert run.kind == "import" and run.status == "queued"
        attendees = await c.list_all(lambda cur: c.list_attendees(EVENT, limit=2, cursor=cur))
        assert [a.display_name for a in attendees] == names
        history = await c.identity_history(EVENT, "att-0001")
        assert history.items[0].decision == "minted"
        with pytest.raises(MatchRunNotFound):
            await c.event_matches(EVENT)
        enrich = await c.start_enrichment(EVENT, idempotency_key="enr-1")
        assert enrich.kind == "enrichment"
        match = await c.start_matching(EVENT, idempotency_key="m-1", top_n=2)
        done = await c.wait_for_run(match.run_id, interval_s=0, sleep=_no_sleep)
        assert done.status == "succeeded" and done.terminal
        mine = await c.attendee_matches(EVENT, "att-0001")
        assert mine.run_id == match.run_id and len(mine.items) == 2
        best = mine.items[0]
        pair = await c.pair_match(EVENT, "att-0001", best.target_attendee_id)
        assert pair.final_score == best.final_score and pair.sub_scores.value_alignment is not None
        everyone = await c.list_all(lambda cur: c.event_matches(EVENT, limit=3, cursor=cur))
        assert len(everyone) == 10
        runs = await c.list_all(lambda cur: c.list_runs(limit=1, cursor=cur))
        assert {x.kind for x in runs} == {"import", "enrichment", "match"}
        assert (await c.list_runs(kind="match")).items[0].run_id == match.run_id
        with pytest.raises(AttendeeNotFound):
            await c.attendee_matches(EVENT, "att-9999")
        generic = await c.create_run("import", idempotency_key="g-1")
        assert generic.event_id is None


async def test_page_cap_stops_following() -> None:
    async with rig() as r:
        c = r.client
        await with_event(c)
        await c.import_attendees(EVENT, people("A", "B", "C"), idempotency_key="k")
        fetch = lambda cur: c.list_attendees(EVENT, limit=1, cursor=cur)  # noqa: E731
        assert len(await c.list_all(fetch, max_pages=2)) == 2


async def test_retry_after_a_lost_answer_reuses_the_key_and_imports_once() -> None:
    async with rig() as r:
        await with_event(r.client)
        r.sandbox.state.force(502, "BAD_GATEWAY", after=True)
        [run] = await r.client.import_attendees(EVENT, people("Ann"), idempotency_key="imp-1")
        assert r.sandbox.state.import_requests == 2
        assert len([x for x in r.sandbox.state.runs.values() if x.kind == "import"]) == 1
        assert run.idempotency_key == "imp-1"
        [again] = await r.client.import_attendees(EVENT, people("Ann"), idempotency_key="imp-1")
        assert again.run_id == run.run_id


async def test_same_key_other_body_is_a_conflict() -> None:
    async with rig() as r:
        await with_event(r.client)
        await r.client.start_matching(EVENT, idempotency_key="m-1", top_n=3)
        with pytest.raises(IdempotencyKeyConflict) as caught:
            await r.client.start_matching(EVENT, idempotency_key="m-1", top_n=4)
        assert caught.value.status == 409


async def test_imports_are_chunked_under_the_limits_up_front() -> None:
    config = EventsSandboxConfig.fast(max_import_rows=2)
    async with rig(config, ImportLimits(max_rows=2)) as r:
        await with_event(r.client)
        runs = await r.client.import_attendees(
            EVENT, people("A", "B", "C", "D", "E"), idempotency_key="big"
        )
        assert [x.idempotency_key for x in runs] == ["big-1of3", "big-2of3", "big-3of3"]
        assert len((await r.client.list_attendees(EVENT)).items) == 5


async def test_a_413_splits_once_then_raises() -> None:
    async with rig(EventsSandboxConfig.fast(max_import_rows=2)) as r:
        await with_event(r.client)
        runs = await r.client.import_attendees(
            EVENT, people("A", "B", "C", "D"), idempotency_key="k"
        )
        assert [x.idempotency_key for x in runs] == ["k-a", "k-b"]
        with pytest.raises(PayloadTooLarge) as caught:
            await r.client.import_attendees(
                EVENT, people("A", "B", "C", "D", "E", "F"), idempotency_key="k2"
            )
        assert caught.value.code == "PAYLOAD_TOO_LARGE"


async def test_review_queue_resolve_and_merge() -> None:
    async with rig() as r:
        c = r.client
        await with_event(c)
        rows = [
            AttendeeInput(attendee_id="att-1", name="Jordan Lee", email="j@x.io"),
            AttendeeInput(attendee_id="att-2", name="Jordan Lee"),
            AttendeeInput(attendee_id="att-3", name="Sam Roe", email="j@x.io"),
        ]
        await c.import_attendees(EVENT, rows, idempotency_key="imp")
        reviews = (await c.review_queue(EVENT)).items
        assert len(reviews) == 2 and len((await c.review_queue()).items) == 2
        by_id = {x.partner_id: x.review_id for x in reviews}
        resolved = await c.resolve_review(by_id["att-3"], "distinct", reason="Different people")
        assert resolved.logged and resolved.decision == "distinct"
        merged = await c.merge_review(
            by_id["att-2"],
            MergeRequest(
                source_kind="attendee",
                source_partner_id="att-2",
                target_kind="attendee",
                target_partner_id="att-1",
            ),
        )
        assert merged.merged and merged.target.partner_id == "att-1"
        assert (await c.review_queue()).items == []


async def test_correlation_id_sent_and_kept_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    async with rig() as r:
        me = await r.client.auth(correlation_id="corr-123")
        assert me.correlation_id == "corr-123"
        assert r.sandbox.state.correlation_ids[-1] == "corr-123"
        with pytest.raises(EventNotFound) as caught:
            await r.client.get_event("missing")
        sent = r.sandbox.state.correlation_ids[-1]
        assert caught.value.correlation_id == sent
        assert sent in str(caught.value) and sent in caplog.text


async def test_a_bad_key_is_unauthorized() -> None:
    async with rig() as r:
        with pytest.raises(EventsUnauthorized):
            await r.other("evk_unknown").auth()


@pytest.mark.parametrize("code", sorted(CODE_ERRORS))
async def test_every_code_becomes_its_typed_error(code: str) -> None:
    cls = CODE_ERRORS[code]
    status = next(s for s, base in _STATUS_BASES.items() if issubclass(cls, base))
    async with rig() as r:
        r.sandbox.state.force(status, code, times=3)
        with pytest.raises(cls) as caught:
            await r.client.auth()
        assert caught.value.code == code and caught.value.correlation_id


_STATUS_BASES: dict[int, type[EventsError]] = {
    400: EventsBadRequest,
    401: EventsUnauthorized,
    403: EventsForbidden,
    404: EventsNotFound,
    409: EventsConflict,
    413: PayloadTooLarge,
    429: EventsRateLimited,
}
