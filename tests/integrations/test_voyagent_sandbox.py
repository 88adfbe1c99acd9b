"""The Voyagent sandbox against the wire contract, over loopback HTTP: sign-in (2FA, refresh
rotation and reuse, expiry), enquiries, approvals, reports, the audit log and forced errors.
The streamed agent turns are in ``test_voyagent_sandbox_stream.py``, which shares the
helpers below."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from integrations.sandbox import (
    RunningVoyagentSandbox,
    VoyagentSandboxConfig,
    create_voyagent_app,
    running_voyagent_sandbox,
    voyagent_state,
)
from integrations.sandbox.voyagent_state import (
    AGENT_EMAIL,
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    OTHER_TENANT_EMAIL,
    TOTP_EMAIL,
)

LISBON = {
    "customer_name": "Rita Sousa",
    "customer_email": "rita@example.com",
    "origin": "London",
    "destination": "Lisbon",
    "depart_date": "2026-05-04",
    "return_date": "2026-05-09",
    "travellers": 4,
    "budget": {"amount": "6000", "currency": "EUR"},
    "notes": "Near Alfama if possible",
    "reference": "CONC-42",
}


@dataclass
class World:
    sandbox: RunningVoyagentSandbox
    http: httpx.AsyncClient

    async def sign_in(self, email: str = DEFAULT_EMAIL) -> dict[str, str]:
        """Bearer headers for ``email`` (a non-2FA account)."""
        body = {"email": email, "password": DEFAULT_PASSWORD}
        answer = await self.http.post("/auth/sign-in", json=body)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def enquiry(self, auth: dict[str, str], **changes: Any) -> dict[str, Any]:
        answer = await self.http.post("/enquiries", json={**LISBON, **changes}, headers=auth)
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@contextlib.asynccontextmanager
async def world(config: VoyagentSandboxConfig | None = None) -> AsyncIterator[World]:
    async with (
        running_voyagent_sandbox(config or VoyagentSandboxConfig.fast()) as sandbox,
        httpx.AsyncClient(base_url=sandbox.base_url, timeout=5) as http,
    ):
        yield World(sandbox, http)


def detail(answer: httpx.Response) -> Any:
    return answer.json()["detail"]


# --------------------------------------------------------------------------- auth


async def test_each_account_signs_in_and_a_wrong_password_is_refused() -> None:
    async with world() as w:
        for email, role, tenant in [
            (DEFAULT_EMAIL, "agency_admin", "t_sandbox"),
            (AGENT_EMAIL, "agent", "t_sandbox"),
            (OTHER_TENANT_EMAIL, "agency_admin", "t_other"),
        ]:
            answer = await w.http.post(
                "/auth/sign-in", json={"email": email, "password": DEFAULT_PASSWORD}
            )
            body = answer.json()
            assert body["token_type"] == "bearer" and body["expires_in"] == 300
            assert body["user"]["role"] == role and body["user"]["tenant_id"] == tenant
            me = await w.http.get("/auth/me", headers=await w.sign_in(email))
            assert me.json()["email"] == email and me.json()["totp_enabled"] is False
        wrong = await w.http.post("/auth/sign-in", json={"email": DEFAULT_EMAIL, "password": "x"})
        assert wrong.status_code == 401 and detail(wrong) == "invalid_credentials"
        nobody = {"email": "nobody@example.com", "password": DEFAULT_PASSWORD}
        assert detail(await w.http.post("/auth/sign-in", json=nobody)) == "invalid_credentials"
        missing = await w.http.post("/auth/sign-in", json={"email": DEFAULT_EMAIL})
        assert missing.status_code == 422 and detail(missing)[0]["loc"] == ["body", "password"]
        assert (await w.http.get("/health")).json() == {"status": "ok"}


async def test_totp_sign_in_good_bad_and_expired_challenge() -> None:
    async with world() as w:
        body = {"email": TOTP_EMAIL, "password": DEFAULT_PASSWORD}
        first = (await w.http.post("/auth/sign-in", json=body)).json()
        assert first["totp_required"] is True and "access_token" not in first
        challenge = first["challenge_token"]
        bad = await w.http.post(
            "/auth/sign-in-totp", json={"challenge_token": challenge, "code": "000000"}
        )
        assert bad.status_code == 401 and detail(bad) == "invalid_totp_code"
        code = VoyagentSandboxConfig.fast().totp_code
        good = await w.http.post(
            "/auth/sign-in-totp", json={"challenge_token": challenge, "code": code}
        )
        assert good.status_code == 200 and good.json()["user"]["totp_enabled"] is True
        again = await w.http.post(
            "/auth/sign-in-totp", json={"challenge_token": challenge, "code": code}
        )
        assert detail(again) == "invalid_challenge"  # single use

        stale = (await w.http.post("/auth/sign-in", json=body)).json()["challenge_token"]
        w.sandbox.state.advance(301)
        late = await w.http.post(
            "/auth/sign-in-totp", json={"challenge_token": stale, "code": code}
        )
        assert late.status_code == 401 and detail(late) == "invalid_challenge"


async def test_refresh_rotates_and_a_reused_token_revokes_the_family() -> None:
    async with world() as w:
        signed = (
            await w.http.post(
                "/auth/sign-in", json={"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}
            )
        ).json()
        old = signed["refresh_token"]
        fresh = (await w.http.post("/auth/refresh", json={"refresh_token": old})).json()
        assert fresh["refresh_token"] != old and fresh["access_token"] != signed["access_token"]
        assert w.sandbox.state.calls[("POST", "/auth/refresh")] == 1

        reused = await w.http.post("/auth/refresh", json={"refresh_token": old})
        assert reused.status_code == 401 and detail(reused) == "refresh_token_reused"
        new_pair = await w.http.post(
            "/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
        )
        assert detail(new_pair) == "invalid_refresh_token"
        auth = {"Authorization": f"Bearer {fresh['access_token']}"}
        assert detail(await w.http.get("/auth/me", headers=auth)) == "not_authenticated"
        unknown = await w.http.post("/auth/refresh", json={"refresh_token": "nope"})
        assert detail(unknown) == "invalid_refresh_token"


async def test_access_tokens_expire_and_sign_out_ends_the_sign_in() -> None:
    async with world(VoyagentSandboxConfig.fast(access_ttl_s=1)) as w:
        auth = await w.sign_in()
        assert (await w.http.get("/auth/me", headers=auth)).status_code == 200
        w.sandbox.state.advance(1.5)
        expired = await w.http.get("/auth/me", headers=auth)
        assert expired.status_code == 401 and detail(expired) == "token_expired"
        for garbled in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer x"}):
            answer = await w.http.get("/auth/me", headers=garbled)
            assert answer.status_code == 401 and detail(answer) == "not_authenticated"

        signed = (
            await w.http.post(
                "/auth/sign-in", json={"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}
            )
        ).json()
        out = await w.http.post("/auth/sign-out", json={"refresh_token": signed["refresh_token"]})
        assert out.status_code == 204
        after = await w.http.post("/auth/refresh", json={"refresh_token": signed["refresh_token"]})
        assert detail(after) == "invalid_refresh_token"
        kept = (
            await w.http.post(
                "/auth/sign-in", json={"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}
            )
        ).json()["refresh_token"]
        w.sandbox.state.advance(86_401)
        stale = await w.http.post("/auth/refresh", json={"refresh_token": kept})
        assert stale.status_code == 401 and detail(stale) == "invalid_refresh_token"


async def test_the_app_serves_in_process_too() -> None:
    app = create_voyagent_app(VoyagentSandboxConfig.fast())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://voyagent") as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        body = {"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}
        token = (await http.post("/auth/sign-in", json=body)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        session = (await http.post("/chat/sessions", json={}, headers=auth)).json()
        url = f"/chat/sessions/{session['id']}/messages"
        turn = await http.post(url, json={"message": "Lisbon for 2"}, headers=auth)
        assert turn.text.count("event: agent_event") > 8
        assert voyagent_state(app).approvals


# --------------------------------------------------------------------------- enquiries


async def test_enquiry_create_validation_list_and_q() -> None:
    async with world() as w:
        auth = await w.sign_in()
        made = await w.enquiry(auth)
        assert made["status"] == "new" and made["session_id"] is None
        assert made["budget"] == {"amount": "6000.00", "currency": "EUR"}
        assert made["depart_date"] == "2026-05-04" and made["travellers"] == 4
        await w.enquiry(auth, destination="Porto", notes="wine tour", reference="CONC-43")

        bad = {**LISBON, "travellers": 0, "notes": "x" * 4001, "depart_date": "May"}
        bad.pop("destination")
        invalid = await w.http.post("/enquiries", json=bad, headers=auth)
        assert invalid.status_code == 422
        locs = {tuple(d["loc"]) for d in detail(invalid)}
        assert {
            ("body", "destination"),
            ("body", "travellers"),
            ("body", "notes"),
            ("body", "depart_date"),
        } <= locs
        backwards = {**LISBON, "return_date": "2026-05-01"}
        assert (await w.http.post("/enquiries", json=backwards, headers=auth)).status_code == 422

        listed = (await w.http.get("/enquiries", headers=auth)).json()
        assert listed["total"] == 2 and listed["items"][0]["destination"] == "Porto"
        for q, count in [("alfama", 1), ("conc-4", 2), ("WINE", 1), ("nowhere", 0)]:
            found = (await w.http.get("/enquiries", params={"q": q}, headers=auth)).json()
            assert found["total"] == count, q
        departs = {"depart_from": "2026-05-01", "depart_to": "2026-05-31"}
        assert (await w.http.get("/enquiries", params=departs, headers=auth)).json()["total"] == 2
        reversed_range = {"depart_from": "2026-06-01", "depart_to": "2026-05-01"}
        answer = await w.http.get("/enquiries", params=reversed_range, headers=auth)
        assert answer.status_code == 422
        paged = await w.http.get("/enquiries", params={"limit": 1, "offset": 1}, headers=auth)
        assert [e["destination"] for e in paged.json()["items"]] == ["Lisbon"]


async def test_promote_is_idempotent_and_patch_refuses_reopening() -> None:
    async with world() as w:
        auth = await w.sign_in()
        made = await w.enquiry(auth)
        url = f"/enquiries/{made['id']}"
        first = (await w.http.post(f"{url}/promote-to-session", headers=auth)).json()
        second = (await w.http.post(f"{url}/promote-to-session", headers=auth)).json()
        assert first == second == {"enquiry_id": made["id"], "session_id": first["session_id"]}
        assert len(w.sandbox.state.sessions) == 1
        assert (await w.http.get(url, headers=auth)).json()["session_id"] == first["session_id"]

        patched = await w.http.patch(url, json={"status": "quoted", "notes": None}, headers=auth)
        assert patched.json()["status"] == "quoted" and patched.json()["notes"] is None
        assert patched.json()["destination"] == "Lisbon"
        null_destination = await w.http.patch(url, json={"destination": None}, headers=auth)
        assert null_destination.status_code == 422
        await w.http.patch(url, json={"status": "cancelled"}, headers=auth)
        reopened = await w.http.patch(url, json={"status": "new"}, headers=auth)
        assert reopened.status_code == 409 and detail(reopened) == "enquiry_terminal"
        assert (await w.http.get(url, headers=auth)).json()["status"] == "cancelled"


async def test_other_tenants_rows_are_not_found() -> None:
    async with world() as w:
        auth, other = await w.sign_in(), await w.sign_in(OTHER_TENANT_EMAIL)
        made = await w.enquiry(auth)
        session = (await w.http.post("/chat/sessions", json={}, headers=auth)).json()
        answer = await w.http.get(f"/enquiries/{made['id']}", headers=other)
        assert answer.status_code == 404 and detail(answer) == "enquiry_not_found"
        answer = await w.http.get(f"/chat/sessions/{session['id']}", headers=other)
        assert answer.status_code == 404 and detail(answer) == "session_not_found"
        assert (await w.http.get("/enquiries", headers=other)).json()["total"] == 0
        assert (await w.http.get("/chat/sessions", headers=other)).json() == {"items": []}


# --------------------------------------------------------------------------- sessions and approvals


async def test_session_crud() -> None:
    async with world() as w:
        auth = await w.sign_in()
        made = await w.http.post("/chat/sessions", json={"title": "Rita"}, headers=auth)
        assert made.status_code == 201 and made.json()["message_count"] == 0
        untitled = (await w.http.post("/chat/sessions", headers=auth)).json()
        listed = (await w.http.get("/chat/sessions", headers=auth)).json()["items"]
        assert [s["id"] for s in listed] == [untitled["id"], made.json()["id"]]
        url = f"/chat/sessions/{made.json()['id']}"
        renamed = await w.http.patch(url, json={"title": "Rita & co"}, headers=auth)
        assert renamed.json()["title"] == "Rita & co"
        assert (await w.http.delete(url, headers=auth)).status_code == 204
        assert detail(await w.http.get(url, headers=auth)) == "session_not_found"


async def test_approvals_resolve_once_and_are_not_found_across_tenants() -> None:
    async with world() as w:
        auth, other = await w.sign_in(), await w.sign_in(OTHER_TENANT_EMAIL)
        state = w.sandbox.state
        session = (await w.http.post("/chat/sessions", json={}, headers=auth)).json()
        actor = state.accounts[DEFAULT_EMAIL]
        first = state.new_approval(
            state.sessions[session["id"]], "Hold", {"kind": "flight", "amount": 1}, actor
        )
        second = state.new_approval(
            state.sessions[session["id"]], "Hold", {"kind": "hotel", "amount": 1}, actor
        )
        url = f"/approvals/{first['id']}"
        assert (await w.http.get(url, headers=other)).status_code == 404
        foreign = await w.http.post(f"{url}/resolve", json={"granted": True}, headers=other)
        assert foreign.status_code == 404 and detail(foreign) == "approval_not_found"

        granted = await w.http.post(
            f"{url}/resolve", json={"granted": True, "reason": "ok by Rita"}, headers=auth
        )
        assert granted.json()["status"] == "granted" and granted.json()["reason"] == "ok by Rita"
        assert granted.json()["resolved_at"] is not None
        twice = await w.http.post(f"{url}/resolve", json={"granted": False}, headers=auth)
        assert twice.status_code == 409 and detail(twice) == "approval_already_resolved"

        state.expire_approval(second["id"])
        late = await w.http.post(
            f"/approvals/{second['id']}/resolve", json={"granted": True}, headers=auth
        )
        assert detail(late) == "approval_already_resolved"
        listed = (await w.http.get("/approvals", headers=auth)).json()["items"]
        assert [a["status"] for a in listed] == ["expired", "granted"]
        pending = await w.http.get("/approvals", params={"status": "pending"}, headers=auth)
        assert pending.json() == {"items": []}
        assert (await w.http.get("/approvals", headers=other)).json() == {"items": []}


# --------------------------------------------------------------------------- reports, audit


async def test_reports_and_tenant_settings() -> None:
    async with world() as w:
        auth = await w.sign_in()
        settings = (await w.http.get("/tenant-settings", headers=auth)).json()
        assert settings["agency_name"] == "Sandbox Travel Co." and settings["currency"] == "EUR"
        assert settings["approval_ttl_minutes"] == 15
        span = {"from": "2026-01-01", "to": "2026-12-31"}
        for name in ("payables", "receivables"):
            report = (await w.http.get(f"/reports/{name}", params=span, headers=auth)).json()
            total = sum(float(b["amount"]) for b in report["buckets"])
            assert float(report["total"]) == total and report["from"] == "2026-01-01"
        missing = await w.http.get("/reports/payables", params={"from": "2026-01-01"}, headers=auth)
        assert missing.status_code == 422
        balance = (await w.http.get("/reports/trial-balance", headers=auth)).json()
        assert balance["total_debit"] == balance["total_credit"]
        everything = await w.http.get(
            "/reports/trial-balance", params={"include_zero": "1"}, headers=auth
        )
        assert len(everything.json()["accounts"]) > len(balance["accounts"])

        made = await w.enquiry(auth)
        promoted = await w.http.post(f"/enquiries/{made['id']}/promote-to-session", headers=auth)
        session_id = promoted.json()["session_id"]
        plan = await w.http.get(
            "/reports/itinerary", params={"session_id": session_id}, headers=auth
        )
        body = plan.json()
        assert body["travellers"] == 4 and body["total"] is None
        assert body["days"][0]["date"] == "2026-05-04" and len(body["days"]) == 6
        assert body["days"][0]["items"][0]["kind"] == "note"
        other = await w.sign_in(OTHER_TENANT_EMAIL)
        hidden = await w.http.get(
            "/reports/itinerary", params={"session_id": session_id}, headers=other
        )
        assert hidden.status_code == 404


async def test_audit_is_for_admins_and_exports_csv() -> None:
    async with world(VoyagentSandboxConfig.fast(audit_export_max_rows=4)) as w:
        auth = await w.sign_in()
        made = await w.enquiry(auth)
        await w.http.patch(f"/enquiries/{made['id']}", json={"status": "quoted"}, headers=auth)
        desk = await w.sign_in(AGENT_EMAIL)
        for path in ("/audit", "/audit/export.csv"):
            refused = await w.http.get(path, headers=desk)
            assert refused.status_code == 403 and detail(refused) == "agency_admin_required"

        listed = (await w.http.get("/audit", headers=auth)).json()
        kinds = [row["kind"] for row in listed["items"]]
        assert kinds == ["auth.sign_in", "enquiry.updated", "enquiry.created", "auth.sign_in"]
        assert listed["total"] == 4 and listed["items"][0]["actor_email"] == AGENT_EMAIL
        mine = await w.http.get("/audit", params={"kind": "enquiry.created"}, headers=auth)
        assert mine.json()["items"][0]["payload"] == {"id": made["id"]}

        exported = await w.http.get("/audit/export.csv", headers=auth)
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == [
            "created_at",
            "kind",
            "actor_kind",
            "actor_id",
            "actor_email",
            "status",
            "summary",
            "payload_json",
        ]
        assert len(rows) == 5 and json.loads(rows[3][7]) == {"id": made["id"]}
        await w.http.post("/auth/sign-in", json={"email": DEFAULT_EMAIL, "password": "wrong"})
        too_many = await w.http.get("/audit/export.csv", headers=auth)
        assert too_many.status_code == 413 and detail(too_many) == "audit_export_too_large"
        narrowed = await w.http.get(
            "/audit/export.csv", params={"kind": "auth.sign_in"}, headers=auth
        )
        assert narrowed.status_code == 200


async def test_forced_errors_answer_once_and_count() -> None:
    async with world() as w:
        auth = await w.sign_in()
        state = w.sandbox.state
        state.force("GET", "/enquiries", 503, "service_unavailable")
        state.force("POST", "/chat/sessions", 429, "rate_limited", times=2)
        unavailable = await w.http.get("/enquiries", headers=auth)
        assert unavailable.status_code == 503 and detail(unavailable) == "service_unavailable"
        assert (await w.http.get("/enquiries", headers=auth)).status_code == 200
        for _ in range(2):
            limited = await w.http.post("/chat/sessions", json={}, headers=auth)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert (await w.http.post("/chat/sessions", json={}, headers=auth)).status_code == 201
        session_id = next(iter(state.sessions))
        state.force("GET", f"/chat/sessions/{session_id}", 500, "internal_error")
        assert (await w.http.get(f"/chat/sessions/{session_id}", headers=auth)).status_code == 500
        assert state.calls[("GET", "/enquiries")] == 2
        assert state.calls[("GET", "/chat/sessions/{session_id}")] == 1
