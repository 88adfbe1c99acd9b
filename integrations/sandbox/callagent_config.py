"""What a demo or a test may tune in the AI Call Agent sandbox, and its fixed constants.

Kept apart from the state and the script so that both (and the routes) can share the
config and the question type without importing each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_CALL_AGENT_ADMIN_KEY",
    "DEFAULT_CALL_AGENT_KEY",
    "FINAL_STATUSES",
    "GENERAL_QUESTION",
    "MAINTENANCE_MESSAGE",
    "OWNER_POD",
    "RESERVATION_QUESTION",
    "CallAgentSandboxConfig",
    "SandboxQuestion",
]

DEFAULT_CALL_AGENT_KEY = "ca_sandbox_key"
DEFAULT_CALL_AGENT_ADMIN_KEY = "ca_sandbox_admin_key"
"""An admin key (``metadata.is_admin``): the only kind that may fetch recordings."""
FINAL_STATUSES = frozenset({"completed", "failed", "no_answer", "cancelled"})
ACTIVE_STATUSES = frozenset({"queued", "dialing", "in_progress"})
MAINTENANCE_MESSAGE = "Scheduled maintenance until 14:00 UTC"
OWNER_POD = "sandbox-pod-1"


@dataclass(frozen=True, slots=True)
class SandboxQuestion:
    """One ``ask_user`` of the script."""

    question: str
    options: tuple[str, ...] = ()


RESERVATION_QUESTION = SandboxQuestion(
    "They have 21:15 on the terrace, or 22:00 inside — which would you like?",
    ("21:15 on the terrace", "22:00 inside"),
)
GENERAL_QUESTION = SandboxQuestion("They ask whose name this is under — what should I tell them?")


@dataclass(frozen=True, slots=True)
class CallAgentSandboxConfig:
    """What a demo or a test may tune; :meth:`fast` zeroes every script delay."""

    keys: frozenset[str] = frozenset({DEFAULT_CALL_AGENT_KEY})
    admin_keys: frozenset[str] = frozenset({DEFAULT_CALL_AGENT_ADMIN_KEY})
    customer_name: str = "Sandbox Concierge"
    quota_limit: int = 1000
    credits_per_call: int = 10
    max_concurrent_calls: int = 1
    """Default per-key cap (``PUT /users/me/limits`` changes it per key)."""
    queue_mode: bool = False
    """``call_queue_enabled``: starts answer 202 and a drainer dials them later."""
    fail_start_with: int | None = None
    """400/402/409/502/503: every start answers this (see ``set_fail_start``)."""
    queue_s: float = 2.0
    dial_s: float = 2.0
    turn_s: float = 1.5
    """Pause before each transcript line / question."""
    answer_timeout_s: float = 60.0
    heartbeat_s: float = 15.0
    close_after_outcome_s: float = 5.0
    stream_max_s: float = 1800.0
    drop_stream_after_events: int | None = None
    """Cut every SSE connection abruptly after this many events (Last-Event-ID tests)."""
    outcome: Literal["completed", "failed", "no_answer"] = "completed"
    questions: tuple[SandboxQuestion, ...] | None = None
    """None: one question (the terrace one for a reservation brief)."""
    allow_http_webhooks: bool = False
    webhook_max_attempts: int = 3
    webhook_retry_backoff_s: float = 1.0
    webhook_timeout_s: float = 5.0

    @classmethod
    def fast(cls, **overrides: Any) -> CallAgentSandboxConfig:
        """No script or webhook delays (answers still get 5 s): what tests want."""
        base = cls(
            queue_s=0.0,
            dial_s=0.0,
            turn_s=0.0,
            answer_timeout_s=5.0,
            close_after_outcome_s=0.0,
            webhook_retry_backoff_s=0.0,
        )
        return dataclasses.replace(base, **overrides)
