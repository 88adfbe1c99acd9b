"""How bookings are placed in this deployment."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

WEBHOOK_PATH = "/webhooks/outgoing/bookings/"


@dataclass(frozen=True)
class BookingConfig:
    """`token_key` derives each booking's webhook token, so only its hash is ever stored and
    a crashed booking can be re-sent with the very same body after a restart."""

    public_url: str = "http://127.0.0.1:8080"
    payment_mode: str = "dry_run_success"
    default_spend_cap_cents: int = 50_000
    approval_ttl_s: float = 15 * 60
    timezone: str = "UTC"
    """Where "tonight" and "tomorrow" are, when the person's own time zone is not known."""
    token_key: bytes = field(default=b"", repr=False)

    def webhook_token(self, idempotency_key: str) -> str:
        if not self.token_key:
            raise RuntimeError("bookings need a secret key to sign their webhook URLs")
        digest = hmac.new(self.token_key, f"booking:{idempotency_key}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    def webhook_url(self, idempotency_key: str) -> str:
        return f"{self.public_url.rstrip('/')}{WEBHOOK_PATH}{self.webhook_token(idempotency_key)}"
