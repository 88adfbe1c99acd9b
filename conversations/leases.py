"""Who holds work: each process has one owner name, and every lease it takes expires.

Inbox items, jobs and outbox rows are worked under a lease with an expiry, renewed while the
work goes on; a process that dies lets its leases run out, and another takes the work over.
`LEASE_S` is short enough that a dead process's work resumes within half a minute.

`CONCIERGE_LEASE_SECONDS` (read once, at import) overrides `LEASE_S`, so tests of several
processes can watch a take-over in seconds; `RENEW_EVERY_S` follows it (a quarter of the lease,
at most 5 s), so a lease survives a few missed renewals.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

LEASE_ENV = "CONCIERGE_LEASE_SECONDS"


def _lease_seconds(raw: str | None) -> float:
    """The lease length from the environment; a value that is not a positive number stops the
    process at once rather than leaving leases that never (or always) expire."""
    if raw is None or not raw.strip():
        return 20.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{LEASE_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


LEASE_S = _lease_seconds(os.environ.get(LEASE_ENV))
RENEW_EVERY_S = min(5.0, LEASE_S / 4)


def new_owner() -> str:
    """A name for this process's leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_until(now: datetime | None = None, seconds: float = LEASE_S) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)
