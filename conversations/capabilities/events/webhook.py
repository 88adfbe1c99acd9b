"""Run webhooks from the Events partner: only a hint that a run moved on.

The URL's token (only its hash is stored, on the job) finds the job; the job is then due at
once, and its next poll of `GET /runs/{id}` decides what it says. A webhook therefore never
announces anything itself, so a webhook and a poll can never announce one run twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from conversations.capabilities.events.import_job import IMPORT
from conversations.capabilities.events.matching import MATCHING
from storage import Database, repositories, token_hash

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_KINDS = frozenset({IMPORT.name, MATCHING.name})


@dataclass(frozen=True)
class RunHint:
    status_code: int
    woke: bool = False


def _run_id(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    run_id = payload.get("run_id") if isinstance(payload, dict) else None
    return run_id if isinstance(run_id, str) and 0 < len(run_id) <= 128 else None


async def receive_run_hint(db: Database, token: str, body: bytes) -> RunHint:
    """404 for any URL that is not one of our open runs' (a prober learns nothing)."""
    async with db.session() as session:
        action = await repositories.get_action_by_webhook_token(
            session, token_hash=token_hash(token)
        )
        if action is None or action.kind not in _KINDS:
            return RunHint(404)
        ours = {
            action.partner_ref,
            *action.payload.get("run_ids", []),
            action.payload.get("enrich_run"),
            action.payload.get("match_run"),
        }
        run_id = _run_id(body)
        if run_id is not None and run_id not in ours:
            return RunHint(404)
        kind = MATCHING if action.kind == MATCHING.name else IMPORT
        if not kind.is_open(action.status):
            return RunHint(200)  # finished already: nothing to wake
        woke = await repositories.schedule_job(session, action_id=action.id)
    log.info("events run webhook: job woken early (a hint; the poll decides)")
    return RunHint(200, woke=woke)
