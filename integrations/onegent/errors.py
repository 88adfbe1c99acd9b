"""Onegent's additions to the shared error tree (``integrations.errors``).

Each one only refines what the tree already says, so code catching the shared classes
keeps working:

* :class:`MalformedKey` — a key that cannot be an Onegent key; raised before any request
  (the partner would answer ``401 malformed_api_key`` anyway).
* :class:`InvalidRequest` — ``400 invalid_request``: both a ``BadRequest`` (its status) and
  a ``ValidationFailed`` (what it means), with the partner's zod issue list in ``details``.
* :class:`JobCreateFailed` — ``500 job_create_failed``: the spec says to retry with the same
  ``idempotencyKey``, so unlike other 500s it is ``retryable``.
"""

from __future__ import annotations

from typing import Any

from integrations.errors import BadRequest, ServerError, ValidationFailed

__all__ = ["InvalidRequest", "JobCreateFailed", "MalformedKey"]


class MalformedKey(ValueError):
    """The API key does not match ``ogk_(live|test)_[A-Za-z0-9_-]{16,}`` (never echoed)."""


class InvalidRequest(BadRequest, ValidationFailed):
    """400 ``invalid_request``: the body failed the partner's validation."""

    @property
    def details(self) -> list[Any]:
        """The partner's issues (``[{"path": [...], "message": "…"}, …]``), as sent."""
        return self.detail


class JobCreateFailed(ServerError):
    """500 ``job_create_failed``: the partner's database write failed; nothing was created.

    Retryable only with the same ``clientMetadata.idempotencyKey`` (and the same bytes);
    the client does that itself when the request carries a key.
    """

    @property
    def retryable(self) -> bool:
        return True
