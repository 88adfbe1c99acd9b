"""A partner run as its jobs read it: its progress in a few words for the job cards, and
which of the partner's refusals to stop at."""

from __future__ import annotations

from integrations.errors import PartnerError, PartnerHTTPError
from integrations.events.models import Run

_STATUS = {"queued": "queued", "running": "running"}


def counters(run: Run) -> str:
    """`enriched 2/3`, or the run's status when it reports no counters yet."""
    progress = run.progress or {}
    total = progress.get("total")
    shown = [
        f"{name} {value}/{total}" if isinstance(total, int) else f"{name} {value}"
        for name, value in progress.items()
        if name != "total" and isinstance(value, int) and not isinstance(value, bool)
    ]
    if shown and not run.terminal:
        return ", ".join(shown)
    return _STATUS.get(run.status, run.status)


def webhook_refused(error: PartnerError) -> bool:
    """The partner refused our callback URL (a loopback `CONCIERGE_PUBLIC_URL`, say)."""
    return isinstance(error, PartnerHTTPError) and error.code == "INVALID_WEBHOOK_URL"


def final(error: PartnerError) -> bool:
    """A refusal that trying again will not change (a 4xx other than 429)."""
    return isinstance(error, PartnerHTTPError) and 400 <= error.status < 500 and error.status != 429
