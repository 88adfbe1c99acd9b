"""The Voyagent client against the sandbox over loopback: one refresh however many requests
wait, a 401 renewed once, a token that expires mid-turn refreshed once while the stream
resumes where it broke, a reused refresh token, 2FA, approvals, and the error codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from integrations.errors import RateLimited, ServiceUnavailable
from integrations.sandbox import RunningVoyagentSandbox, running_voyagent_sandbox
from integrations.sandbox.voyagent_state import (
    AGENT_EMAIL,
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    TOTP_EMAIL,
    VoyagentSandboxConfig,
)
from integrations.voyagent import (
    AgencyAdminRequired,
    AgentEvent,
    ApprovalAlreadyResolved,
    ApprovalNotFound,
    EnquiryCreate,
    InvalidCredentials,
    InvalidTotpCode,
    MemoryTokenStore,
    SessionNotFound,
    SignInNeeded,
    TotpRequired,
    TurnInProgress,
    VoyagentClient,
)
from integrations.voyagent.wire import read_voyagent_error

REFRESH = ("POST", "/auth/refresh")
SIGN_IN = ("POST", "/auth/sign-in")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def agency(
    config: VoyagentSandboxConfig | None = None,
) -> AsyncIterator[tuple[RunningVoyagentSandbox, httpx.AsyncClient]]:
    async with (
        running_voyagent_sandbox(config or VoyagentSandboxConfig.fast()) as sandbox,
        httpx.AsyncClient() as http,
    ):
        yield sandbox, http


def client_for(
    sandbox: RunningVoyagentSandbox,
    http: httpx.AsyncClient,
    email: str = DEFAULT_EMAIL,
    *,
    clock: Clock | None = None,
) -> VoyagentClient:
    return VoyagentClient(
        http,
        base_url=sandbox.base_url,
        email=email,
        password=DEFAULT_PASSWORD,
        clock=clock or Clock(),
    )


async def _turn(
    client: VoyagentClient, session_id: str, message: str, **kwargs: object
) -> list[AgentEvent]:
    return [e async for e in client.follow_turn(session_id, message, **kwargs)]  # type: ignore[arg-type]


async def _session(client: VoyagentClient) -> str:
    enquiry = await client.create_enquiry(EnquiryCreate(destination="Lisbon", travellers=4))
    return await client.promote_to_session(enquiry.id)


async def test_waiting_requests_share_one_refresh_of_an_expired_token() -> None:
    async with agency() as (sandbox, http):
        clock = Clock()
        client = client_for(sandbox, http, clock=clock)
        await client.sign_in()
        clock.now += 10_000  # past the access token's life, as this process sees it
        users = await asyncio.gather(*(client.me() for _ in range(20)))
        assert {u.email for u in users} == {DEFAULT_EMAIL}
        assert sandbox.state.calls[REFRESH] == 1 and sandbox.state.calls[SIGN_IN] == 1


async def test_a_token_the_agency_expired_is_refreshed_once_and_the_request_resent() -> None:
    async with agency() as (sandbox, http):
        client = client_for(sandbox, http)
        await client.sign_in()
        sandbox.state.advance(sandbox.state.config.access_ttl_s + 5)
        assert (await client.me()).email == DEFAULT_EMAIL
        assert sandbox.state.calls[REFRESH] == 1


async def test_a_turn_outliving_its_token_resumes_after_one_refresh_without_duplicates() -> None:
    async with agency(VoyagentSandboxConfig.fast(delta_delay_s=0.02)) as (sandbox, http):
        client = client_for(sandbox, http)
        session_id = await _session(client)
        sandbox.state.drop_next_stream(after_events=3)
        sandbox.state.advance(sandbox.state.config.access_ttl_s + 5)  # expires meanwhile
        events = await _turn(client, session_id, "Plan 5 days in Lisbon for 4")
        ids = [e.id for e in events if e.id is not None]
        assert len(ids) == len(set(ids)) and ids == sorted(ids, key=int)
        assert events[-1].kind == "approval_request"
        text = "".join(e.text or "" for e in events if e.kind == "text_delta")
        assert "Lisbon" in text
        assert sandbox.state.calls[REFRESH] == 1


async def test_a_paused_turn_resumes_with_the_decision() -> None:
    async with agency() as (sandbox, http):
        client = client_for(sandbox, http)
        session_id = await _session(client)
        paused = await _turn(client, session_id, "Plan 5 days in Lisbon for 4")
        approval_id = paused[-1].approval_id
        assert approval_id and paused[-1].approval_summary
        with pytest.raises(TurnInProgress) as busy:  # still waiting on the approval
            sandbox.state.force(
                "POST", f"/chat/sessions/{session_id}/messages", 409, "turn_in_progress"
            )
            await _turn(client, session_id, "hello?")
        assert "still answering" in busy.value.message
        granted = await client.resolve_approval(approval_id, granted=True)
        assert granted.status == "granted"
        with pytest.raises(ApprovalAlreadyResolved) as again:
            await client.resolve_approval(approval_id, granted=False)
        assert "already resolved" in again.value.message
        resumed = await _turn(
            client, session_id, "", approvals={approval_id: True}, last_event_id=None
        )
        assert resumed[0].kind == "approval_granted"
        assert resumed[-1].kind == "final"
        with pytest.raises(ApprovalNotFound):
            await client.resolve_approval("apr_unknown", granted=True)


async def test_a_reused_refresh_token_signs_in_again_or_needs_a_person_for_2fa() -> None:
    async with agency() as (sandbox, http):
        clock = Clock()
        client = client_for(sandbox, http, clock=clock)
        await client.sign_in()
        sandbox.state.force("POST", "/auth/refresh", 401, "refresh_token_reused")
        clock.now += 10_000
        assert (await client.me()).email == DEFAULT_EMAIL
        assert sandbox.state.calls[SIGN_IN] == 2

        secure = client_for(sandbox, http, TOTP_EMAIL, clock=clock)
        with pytest.raises(TotpRequired) as needed:
            await secure.me()
        assert "246810" not in repr(needed.value) and needed.value.challenge_token not in str(
            needed.value
        )
        with pytest.raises(InvalidTotpCode):
            await secure.sign_in(totp_code="000000")
        assert (await secure.sign_in(totp_code="246810")).email == TOTP_EMAIL
        sandbox.state.force("POST", "/auth/refresh", 401, "refresh_token_reused")
        clock.now += 10_000
        with pytest.raises(SignInNeeded):
            await secure.me()


async def test_each_error_code_reads_as_its_class_with_words_for_people() -> None:
    async with agency() as (sandbox, http):
        with pytest.raises(InvalidCredentials) as refused:
            await VoyagentClient(
                http, base_url=sandbox.base_url, email=DEFAULT_EMAIL, password="nope"
            ).me()
        assert "nope" not in str(refused.value) and "refused the login" in refused.value.message
        desk = client_for(sandbox, http, AGENT_EMAIL)
        with pytest.raises(AgencyAdminRequired):
            await desk.audit_csv()
        client = client_for(sandbox, http)
        with pytest.raises(SessionNotFound):
            await client.get_session("ses_unknown")
        sandbox.state.force("GET", "/auth/me", 429, "rate_limited", times=3)
        with pytest.raises(RateLimited) as limited:
            await client.me()
        assert limited.value.retry_after == 1
        sandbox.state.force("GET", "/auth/me", 503, "service_unavailable", times=3)
        with pytest.raises(ServiceUnavailable):
            await client.me()
        csv = await client.audit_csv()
        assert csv.startswith(b"created_at,kind,actor_kind,actor_id,actor_email,status,summary")
        invalid = [{"loc": ["body", "travellers"], "msg": "must be at most 50", "type": "x"}]
        said = read_voyagent_error(422, json.dumps({"detail": invalid}).encode())
        assert said.message == "body.travellers: must be at most 50" and said.detail
        assert "sandbox-password" not in repr(client) + repr(client.auth)


async def test_two_processes_sharing_the_session_never_spend_one_refresh_token_twice() -> None:
    async with agency() as (sandbox, http):
        store = MemoryTokenStore()  # as the sealed database row is to two replicas
        first = VoyagentClient(
            http,
            base_url=sandbox.base_url,
            email=DEFAULT_EMAIL,
            password=DEFAULT_PASSWORD,
            store=store,
        )
        second = VoyagentClient(
            http,
            base_url=sandbox.base_url,
            email=DEFAULT_EMAIL,
            password=DEFAULT_PASSWORD,
            store=store,
        )
        await first.sign_in()
        await second.me()  # the stored session, no sign-in of its own
        sandbox.state.advance(sandbox.state.config.access_ttl_s + 5)
        await first.me()  # refused, refreshed once
        assert (await second.me()).email == DEFAULT_EMAIL  # refused, adopts the stored pair
        assert sandbox.state.calls[REFRESH] == 1 and sandbox.state.calls[SIGN_IN] == 1
