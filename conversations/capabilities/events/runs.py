"""A partner run's progress in a few words, for the job cards."""

from __future__ import annotations

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
