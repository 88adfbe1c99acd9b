"""The backup `ask_user` webhook: verified over the raw body, then asked like a streamed one.

The URL's token finds the API key's webhook row; the partner signs with the secret it gave
when the webhook was configured: `X-Signature-256: sha256=<hex HMAC-SHA256>`, or Standard
Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`),
whose timestamp must be within five minutes. Anything unsigned, badly signed or stale gets
401 and posts nothing; a question that already came by the stream is not asked again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conversations.capabilities.callagent.access import CallAgentAccess, secret_aad
from conversations.capabilities.callagent.asks import post_question
from conversations.capabilities.callagent.call_job import CALL
from conversations.capabilities.callagent.card import OPEN
from storage import repositories, token_hash

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
TOLERANCE_S = 300


@dataclass(frozen=True)
class WebhookOutcome:
    status_code: int
    asked: bool = False


class AskUserHook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=32)
    call_id: str = Field(min_length=1, max_length=128)
    request_id: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=4000)
    options: list[str] = Field(default_factory=list, max_length=10)


def _standard_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            return secret.encode()
    return secret.encode()


def signature_ok(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None
) -> bool:
    """Whether `body` was signed with `secret` (either scheme), recently where it can tell."""
    now = time.time() if now is None else now
    stamp = headers.get("webhook-timestamp")
    if stamp is not None:
        try:
            if abs(now - int(stamp)) > TOLERANCE_S:
                return False
        except ValueError:
            return False
    given = headers.get("x-signature-256")
    if given:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.strip().lower(), expected)
    hook_id, signatures = headers.get("webhook-id"), headers.get("webhook-signature")
    if not (hook_id and stamp and signatures):
        return False
    signed = f"{hook_id}.{stamp}.".encode() + body
    expected_b64 = base64.b64encode(
        hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    ).decode()
    return any(
        hmac.compare_digest(part.partition(",")[2], expected_b64)
        for part in signatures.split()
        if part.startswith("v1,")
    )


async def receive_ask_user(
    access: CallAgentAccess, token: str, body: bytes, headers: Mapping[str, str]
) -> WebhookOutcome:
    async with access.db.session(read_only=True) as session:
        hook = await repositories.find_call_webhook(session, token_hash=token_hash(token))
    if hook is None:
        return WebhookOutcome(404)
    secret = access.cipher.decrypt(
        hook.secret_ciphertext, aad=secret_aad(hook.key_fingerprint)
    ).decode()
    if not signature_ok(secret, body, headers):
        log.warning("call agent webhook with a bad or stale signature refused")
        return WebhookOutcome(401)
    try:
        hooked = AskUserHook.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return WebhookOutcome(400)
    if hooked.type != "ask_user":
        return WebhookOutcome(200)  # nothing else is sent here today; accepted, ignored
    async with access.db.session() as session:
        action = await repositories.get_action_by_partner_ref(
            session, kind=CALL.name, partner_ref=hooked.call_id
        )
        if (
            action is None
            or action.payload.get("fingerprint") != hook.key_fingerprint
            or action.status not in OPEN
        ):
            return WebhookOutcome(200)  # not a call of ours, or over: nothing to ask
        asked = await post_question(
            session,
            action,
            request_id=hooked.request_id,
            question=hooked.question,
            options=tuple(hooked.options),
        )
    return WebhookOutcome(200, asked=asked)
