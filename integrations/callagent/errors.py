"""Call Agent's two additions to the shared error tree (``integrations.errors``).

Both only refine what the tree already says for the status, so code that catches
``ServerError`` / ``ServiceUnavailable`` keeps working:

* :class:`DialFailed` — ``502`` from ``POST /calls``: Twilio could not dial.
* :class:`Maintenance` — ``503``: an admin-set maintenance window; new calls are refused
  until ``resume_at`` (running calls go on).
"""

from __future__ import annotations

from datetime import datetime

from integrations.errors import ServerError, ServiceUnavailable

__all__ = ["DialFailed", "Maintenance"]


class DialFailed(ServerError):
    """502 on starting a call: the dial failed and the credit reservation was released.

    Not ``retryable``: a 502 from a proxy in front looks the same and the call may have
    been placed after all, so a new attempt is the caller's decision (check ``GET /calls``).
    """

    @property
    def retryable(self) -> bool:
        return False


class Maintenance(ServiceUnavailable):
    """503 maintenance window; ``message`` is the partner's banner text."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        partner: str,
        retry_after: float | None = None,
        resume_at: datetime | None = None,
    ) -> None:
        super().__init__(status, code, message, partner=partner, retry_after=retry_after)
        #: when new calls are accepted again (aware, UTC when the partner gave no zone)
        self.resume_at = resume_at
