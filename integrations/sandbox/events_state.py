"""The Events sandbox's configuration and in-memory state (one org, its events and runs).

Runs advance one step per ``steps_per_status`` polls of ``GET /runs/{id}``: queued →
running → succeeded. Imported attendees that look like one person (same name or e-mail,
different ids) open an identity review. Matches are a pure function of the attendees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_EVENTS_KEY",
    "DEFAULT_EVENTS_READ_KEY",
    "EventsSandboxConfig",
    "EventsSandboxState",
    "ForcedError",
    "SandboxRun",
]

DEFAULT_EVENTS_KEY = "evk_sandbox_concierge_write_0001"
DEFAULT_EVENTS_READ_KEY = "evk_sandbox_concierge_read_0001"
READ = ["partner:read"]
WRITE = ["partner:read", "partner:write"]


@dataclass(frozen=True)
class EventsSandboxConfig:
    """What a demo or a test may tune; :meth:`fast` makes runs finish after two polls."""

    keys: dict[str, list[str]] = field(
        default_factory=lambda: {DEFAULT_EVENTS_KEY: WRITE, DEFAULT_EVENTS_READ_KEY: READ}
    )
    org_id: str = "org-sandbox"
    steps_per_status: int = 2
    max_import_rows: int = 50_000
    max_body_bytes: int = 10 * 1024 * 1024

    @classmethod
    def fast(cls, **overrides: Any) -> EventsSandboxConfig:
        return dataclasses.replace(cls(steps_per_status=1), **overrides)


@dataclass(frozen=True)
class ForcedError:
    """An error the next request answers; ``after`` processes the request first (as if
    the answer were lost on the way back)."""

    status: int
    code: str
    after: bool = False


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class SandboxRun:
    run_id: str
    kind: str
    event_id: str | None
    idempotency_key: str
    webhook_url: str | None
    progress: dict[str, Any] = field(default_factory=dict)
    snapshot_metadata: dict[str, Any] = field(default_factory=dict)
    version_metadata: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    polls: int = 0
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    started_at: str | None = None
    terminal_at: str | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)

    def advance(self, steps_per_status: int) -> None:
        """One poll: after ``steps_per_status`` polls the run moves one status on."""
        if self.terminal_at is not None:
            return
        self.polls += 1
        if self.polls % steps_per_status:
            return
        self.updated_at = now()
        if self.status == "queued":
            self.status, self.started_at = "running", self.updated_at
        else:
            self.status, self.terminal_at = "succeeded", self.updated_at

    def body(self) -> dict[str, Any]:
        names = [
            "run_id",
            "kind",
            "status",
            "event_id",
            "idempotency_key",
            "progress",
            "snapshot_metadata",
            "version_metadata",
            "webhook_url",
            "created_at",
            "updated_at",
            "started_at",
            "terminal_at",
        ]
        return {name: getattr(self, name) for name in names} | {"error": None}


@dataclass
class EventsSandboxState:
    config: EventsSandboxConfig
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    attendees: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    identity: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, SandboxRun] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str | None, str], tuple[str, str]] = field(default_factory=dict)
    forced: list[ForcedError] = field(default_factory=list)
    correlation_ids: list[str] = field(default_factory=list)
    import_requests: int = 0

    def force(self, status: int, code: str, *, after: bool = False, times: int = 1) -> None:
        self.forced.extend([ForcedError(status, code, after)] * times)

    def decide(self, event_id: str, attendee_id: str, decision: str, reason: str) -> None:
        self.identity.setdefault((event_id, attendee_id), []).insert(
            0, {"decision": decision, "reason": reason, "created_at": now()}
        )

    def replay(
        self, kind: str, event_id: str | None, key: str, body: Any
    ) -> SandboxRun | bool | None:
        """The run an idempotency key already made (same body), False for a different
        body (a conflict), None for a new key."""
        seen = self.idempotency.get((kind, event_id, key))
        if seen is None:
            return None
        print_, run_id = seen
        return self.runs[run_id] if print_ == fingerprint(body) else False

    def new_run(
        self, kind: str, event_id: str | None, key: str, body: dict[str, Any]
    ) -> SandboxRun:
        run = SandboxRun(
            run_id=f"run_{uuid.uuid4().hex[:16]}",
            kind=kind,
            event_id=event_id,
            idempotency_key=key,
            webhook_url=body.get("webhook_url"),
            progress=dict(body.get("progress") or {}),
            snapshot_metadata=dict(body.get("snapshot_metadata") or {}),
            version_metadata=dict(body.get("version_metadata") or {}),
        )
        self.runs[run.run_id] = run
        self.idempotency[(kind, event_id, key)] = (fingerprint(body), run.run_id)
        return run

    def import_rows(self, event_id: str, rows: list[dict[str, Any]]) -> None:
        """Store the attendees; open a review for each one that looks like another."""
        known = self.attendees.setdefault(event_id, {})
        for row in rows:
            attendee_id = row["attendee_id"]
            twin = next((other for other in known.values() if _same_person(other, row)), None)
            if attendee_id not in known:
                self.decide(event_id, attendee_id, "minted", "new attendee")
            known[attendee_id] = {**row, "imported_at": now()}
            if twin is not None and twin["attendee_id"] != attendee_id:
                self._open_review(event_id, attendee_id, twin["attendee_id"])

    def _open_review(self, event_id: str, attendee_id: str, candidate: str) -> None:
        review_id = f"rev_{uuid.uuid4().hex[:12]}"
        self.reviews[review_id] = {
            "review_id": review_id,
            "kind": "attendee",
            "partner_id": attendee_id,
            "candidate_partner_id": candidate,
            "event_id": event_id,
            "status": "open",
            "created_at": now(),
        }
        self.decide(event_id, attendee_id, "review_opened", f"looks like {candidate}")

    def open_reviews(self, event_id: str | None = None) -> list[dict[str, Any]]:
        items = [r for r in self.reviews.values() if r["status"] == "open"]
        items = [r for r in items if event_id is None or r["event_id"] == event_id]
        return sorted(items, key=lambda r: r["created_at"], reverse=True)

    def open_review_count(self, event_id: str, attendee_id: str) -> int:
        return sum(
            attendee_id in (r["partner_id"], r["candidate_partner_id"])
            for r in self.open_reviews(event_id)
        )


def _same_person(a: dict[str, Any], b: dict[str, Any]) -> bool:
    same_name = a["name"].strip().casefold() == b["name"].strip().casefold()
    email_a, email_b = (a.get("email") or "").casefold(), (b.get("email") or "").casefold()
    return same_name or bool(email_a and email_a == email_b)
