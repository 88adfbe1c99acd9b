"""The Voyagent sandbox's configuration and in-memory state.

Two tenants share one server so that tenant isolation can be tested: every enquiry, session
and approval has an owner tenant (``owners``) and is a 404 to the other one. Tokens are
random opaque strings; a refresh token is single use, and its reuse revokes its whole
sign-in family. Time is the wall clock plus ``skew`` (:meth:`advance` moves it on).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.sandbox.responses import ApiError

__all__ = [
    "AGENCY_NAME",
    "AGENT_EMAIL",
    "DEFAULT_EMAIL",
    "DEFAULT_PASSWORD",
    "OTHER_TENANT_EMAIL",
    "REPLAY_BUFFER_CAP",
    "TOTP_EMAIL",
    "Account",
    "ChatSession",
    "ForcedError",
    "StoredEvent",
    "VoyagentSandboxConfig",
    "VoyagentSandboxState",
    "fail",
    "iso",
]

DEFAULT_EMAIL = "agent@voyagent.sandbox"
DEFAULT_PASSWORD = "sandbox-password"  # noqa: S105  # the sandbox's published demo login
AGENT_EMAIL = "desk@voyagent.sandbox"
TOTP_EMAIL = "secure@voyagent.sandbox"
OTHER_TENANT_EMAIL = "other@voyagent.sandbox"
AGENCY_NAME = "Sandbox Travel Co."
REPLAY_BUFFER_CAP = 200


@dataclass(frozen=True)
class VoyagentSandboxConfig:
    """What a demo or a test may tune; :meth:`fast` streams without pauses."""

    access_ttl_s: float = 300
    refresh_ttl_s: float = 86_400
    heartbeat_s: float = 15
    delta_delay_s: float = 0.15
    approval_ttl_s: float = 900
    challenge_ttl_s: float = 300
    totp_code: str = "246810"
    audit_export_max_rows: int = 10_000

    @classmethod
    def fast(cls, **overrides: Any) -> VoyagentSandboxConfig:
        return dataclasses.replace(cls(heartbeat_s=0.05, delta_delay_s=0.0), **overrides)


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    full_name: str
    role: str
    tenant_id: str
    agency_name: str
    totp_enabled: bool = False

    def public(self) -> dict[str, Any]:
        """The wire's PublicUser."""
        names = ("id", "email", "full_name", "role", "tenant_id", "totp_enabled")
        return {name: getattr(self, name) for name in names}


ACCOUNTS = (
    Account("u_admin", DEFAULT_EMAIL, "Ana Admin", "agency_admin", "t_sandbox", AGENCY_NAME),
    Account("u_desk", AGENT_EMAIL, "Duarte Desk", "agent", "t_sandbox", AGENCY_NAME),
    Account("u_secure", TOTP_EMAIL, "Sofia Secure", "agency_admin", "t_sandbox", AGENCY_NAME, True),
    Account("u_other", OTHER_TENANT_EMAIL, "Olga Other", "agency_admin", "t_other", "Other Trips"),
)


def fail(status: int, code: str, headers: dict[str, str] | None = None) -> ApiError:
    """The wire's FastAPI-style error: ``{"detail": code}``."""
    return ApiError(status, {"detail": code}, headers)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ForcedError:
    method: str
    path: str
    status: int
    detail: str


@dataclass
class Token:
    account: Account
    family: str
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True)
class StoredEvent:
    id: int
    data: dict[str, Any]

    def frame(self) -> bytes:
        body = json.dumps(self.data, separators=(",", ":"))
        return f"event: agent_event\nid: {self.id}\ndata: {body}\n\n".encode()


@dataclass
class ChatSession:
    """A chat session and its agent: the replay buffer and whether a turn runs or waits."""

    id: str
    tenant_id: str
    title: str
    created_at: str
    enquiry_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: deque[StoredEvent] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER_CAP))
    last_event_id: int = 0
    turn_start: int = 1
    """The id of the first event of the current (or last) turn."""
    greeted: bool = False
    """Whether the agent answered the session's first message (the brief) yet."""
    running: bool = False
    paused_on: str | None = None
    """The approval the agent waits on before it carries on with its turn."""
    listeners: set[asyncio.Event] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "message_count": len(self.messages),
        }

    def emit(self, data: dict[str, Any]) -> StoredEvent:
        self.last_event_id += 1
        event = StoredEvent(self.last_event_id, data)
        self.events.append(event)
        self.wake()
        return event

    def wake(self) -> None:
        for listener in self.listeners:
            listener.set()


class VoyagentSandboxState:
    """Everything the sandbox knows; tests read ``enquiries``, ``sessions``, ``approvals``,
    ``audit`` and ``calls`` and steer it with :meth:`force`, :meth:`drop_next_stream`,
    :meth:`expire_approval` and :meth:`advance`."""

    def __init__(self, config: VoyagentSandboxConfig) -> None:
        self.config = config
        self.accounts = {account.email: account for account in ACCOUNTS}
        self.enquiries: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, ChatSession] = {}
        self.approvals: dict[str, dict[str, Any]] = {}
        self.approval_facts: dict[str, dict[str, Any]] = {}
        """Per approval: what it holds (``kind``: flight/hotel, ``amount``) for the itinerary."""
        self.owners: dict[str, str] = {}
        """Enquiry, session and approval id -> its tenant id."""
        self.audit: list[dict[str, Any]] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        """Requests per (method, route template), e.g. ``("POST", "/auth/refresh")``."""
        self.forced: list[ForcedError] = []
        self.skew = timedelta()
        self.closing = False
        self._access: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}
        self._challenges: dict[str, Token] = {}
        self._revoked: set[str] = set()
        self._drop_after: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ test hooks

    def force(self, method: str, path: str, status: int, detail: str, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` (as sent, or the route template) answer
        ``status`` with ``{"detail": detail}``."""
        self.forced.extend([ForcedError(method.upper(), path, status, detail)] * times)

    def take_forced(self, method: str, template: str, path: str) -> ForcedError | None:
        for forced in self.forced:
            if forced.method == method and forced.path in (template, path):
                self.forced.remove(forced)
                return forced
        return None

    def drop_next_stream(self, after_events: int) -> None:
        """Cut the next event stream after ``after_events`` agent events (no clean end)."""
        self._drop_after = after_events

    def take_drop(self) -> int | None:
        drop, self._drop_after = self._drop_after, None
        return drop

    def expire_approval(self, approval_id: str) -> None:
        """Make a pending approval past its expiry (the next sweep marks it expired)."""
        self.approvals[approval_id]["expires_at"] = iso(self.now() - timedelta(seconds=1))

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock on (token, challenge and approval expiry)."""
        self.skew += timedelta(seconds=seconds)

    def messages_of(self, session_id: str) -> list[dict[str, Any]]:
        """What was posted to the session: ``{"message", "approvals", "at"}`` each."""
        return list(self.sessions[session_id].messages)

    # ------------------------------------------------------------------ time and ids

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def stamp(self) -> str:
        return iso(self.now())

    @staticmethod
    def new_id(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(8)}"

    # ------------------------------------------------------------------ auth

    def issue(self, account: Account, family: str | None = None) -> dict[str, Any]:
        """A fresh token pair (of ``family``: the sign-in it descends from)."""
        family = family or secrets.token_hex(8)
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.now()
        ttl = self.config.access_ttl_s
        self._access[access] = Token(account, family, now + timedelta(seconds=ttl))
        self._refresh[refresh] = Token(
            account, family, now + timedelta(seconds=self.config.refresh_ttl_s)
        )
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": int(ttl),
            "user": account.public(),
        }

    def open_challenge(self, account: Account) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        ttl = self.config.challenge_ttl_s
        self._challenges[token] = Token(account, "", self.now() + timedelta(seconds=ttl))
        return {"totp_required": True, "challenge_token": token, "expires_in": int(ttl)}

    def answer_challenge(self, token: str, code: str) -> Account:
        challenge = self._challenges.get(token)
        if challenge is None or challenge.expires_at <= self.now():
            raise fail(401, "invalid_challenge")
        if not secrets.compare_digest(code.encode(), self.config.totp_code.encode()):
            raise fail(401, "invalid_totp_code")
        del self._challenges[token]
        return challenge.account

    def refresh(self, token: str) -> dict[str, Any]:
        found = self._refresh.get(token)
        if found is None or found.family in self._revoked or found.expires_at <= self.now():
            raise fail(401, "invalid_refresh_token")
        if found.used:
            self._revoked.add(found.family)
            raise fail(401, "refresh_token_reused")
        found.used = True
        return self.issue(found.account, found.family)

    def sign_out(self, token: str) -> None:
        found = self._refresh.get(token)
        if found is not None:
            self._revoked.add(found.family)

    def authenticate(self, token: str) -> Account:
        found = self._access.get(token)
        if found is None or found.family in self._revoked:
            raise fail(401, "not_authenticated", {"WWW-Authenticate": "Bearer"})
        if found.expires_at <= self.now():
            raise fail(401, "token_expired", {"WWW-Authenticate": "Bearer"})
        return found.account

    # ------------------------------------------------------------------ tenancy and audit

    def owned(self, table: dict[str, Any], item_id: str, tenant_id: str, code: str) -> Any:
        """The row, or the same 404 for an unknown id and another tenant's."""
        if item_id not in table or self.owners.get(item_id) != tenant_id:
            raise fail(404, code)
        return table[item_id]

    def record(
        self,
        actor: Account | None,
        tenant_id: str,
        kind: str,
        summary: str,
        payload: dict[str, Any] | None = None,
        status: str = "ok",
    ) -> None:
        self.audit.append(
            {
                "id": self.new_id("aud"),
                "tenant_id": tenant_id,
                "created_at": self.stamp(),
                "kind": kind,
                "actor_kind": "user" if actor else "system",
                "actor_id": actor.id if actor else None,
                "actor_email": actor.email if actor else None,
                "status": status,
                "summary": summary,
                "payload": payload or {},
            }
        )

    # ------------------------------------------------------------------ approvals

    def new_approval(
        self, session: ChatSession, summary: str, facts: dict[str, Any], actor: Account
    ) -> dict[str, Any]:
        approval_id = self.new_id("apr")
        expires = self.now() + timedelta(seconds=self.config.approval_ttl_s)
        row = {
            "id": approval_id,
            "session_id": session.id,
            "status": "pending",
            "summary": summary,
            "created_at": self.stamp(),
            "expires_at": iso(expires),
            "resolved_at": None,
            "reason": None,
        }
        self.approvals[approval_id] = row
        self.approval_facts[approval_id] = facts
        self.owners[approval_id] = session.tenant_id
        payload = {"approval_id": approval_id, "session_id": session.id}
        self.record(actor, session.tenant_id, "approval.requested", summary, payload)
        return row

    def sweep(self) -> None:
        """Lazy expiry: pending approvals past ``expires_at`` become ``expired``."""
        now = self.now()
        for approval_id, row in self.approvals.items():
            if row["status"] == "pending" and datetime.fromisoformat(row["expires_at"]) <= now:
                row["status"] = "expired"
                tenant = self.owners[approval_id]
                self.record(None, tenant, "approval.expired", row["summary"], {"id": row["id"]})

    def resolve(
        self, approval_id: str, granted: bool, actor: Account, reason: str | None = None
    ) -> dict[str, Any]:
        self.sweep()
        row = self.approvals[approval_id]
        if row["status"] != "pending":
            raise fail(409, "approval_already_resolved")
        row.update(
            status="granted" if granted else "rejected", resolved_at=self.stamp(), reason=reason
        )
        payload = {"approval_id": approval_id, "granted": granted, "reason": reason}
        self.record(actor, actor.tenant_id, f"approval.{row['status']}", row["summary"], payload)
        return row

    # ------------------------------------------------------------------ turns and shutdown

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for_turns(self) -> None:
        """Wait until every running agent turn ended (tests; wrap in ``asyncio.timeout``)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close_streams(self) -> None:
        """End every open event stream cleanly, so the server can stop at once."""
        self.closing = True
        for session in self.sessions.values():
            session.wake()

    async def aclose(self) -> None:
        self.close_streams()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
