"""The ``restaurant_booking`` skill of the AI Call Agent sandbox: ``/skills`` routes.

Its input schema, manifest and the Stripe-style ``Idempotency-Key`` handling of a run
make a module of their own; a run starts an ordinary scripted call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.callagent.models import SkillRunResponse, SkillSummary, StartCallBody, TaskKind
from integrations.sandbox.callagent_config import OWNER_POD
from integrations.sandbox.callagent_requests import caller_key, state_of
from integrations.sandbox.responses import ApiError, invalid, json_body, parse, validation_detail

__all__ = [
    "SKILL_ID",
    "SUMMARY",
    "RestaurantBookingInput",
    "list_skills",
    "run_skill",
    "skill_fingerprint",
    "skill_manifest",
]

SKILL_ID = "restaurant_booking"


class RestaurantBookingInput(BaseModel):
    """Input of the ``restaurant_booking`` skill (its manifest's ``input_schema``)."""

    model_config = ConfigDict(extra="ignore")

    venue_name: str = Field(min_length=1, max_length=200)
    target_phone: str = Field(min_length=4, max_length=32, description="E.164")
    date: str | None = Field(default=None, description="YYYY-MM-DD; default today")
    time: str = Field(pattern=r"^\d{1,2}:\d{2}$", description="HH:MM, venue local time")
    party_size: int = Field(ge=1, le=50)
    name: str = Field(min_length=1, max_length=120, description="Name for the booking")
    language: str = "auto"
    notes: str | None = Field(default=None, max_length=1000)


SUMMARY = SkillSummary(
    skill_id=SKILL_ID,
    title="Book a restaurant table",
    description="Calls the restaurant, negotiates a slot (asking you when needed) and books.",
    manifest_url=f"/skills/{SKILL_ID}/manifest",
    run_url=f"/skills/{SKILL_ID}/run",
)


def skill_fingerprint(body: Mapping[str, Any]) -> str:
    """What "the same body" means for ``Idempotency-Key`` (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def list_skills(request: Request) -> Response:
    return JSONResponse([SUMMARY.model_dump(mode="json")])


async def skill_manifest(request: Request) -> Response:
    if request.path_params["skill_id"] != SKILL_ID:
        raise ApiError(404, {"detail": "Unknown skill"})
    return JSONResponse(
        {
            **SUMMARY.model_dump(mode="json"),
            "version": "1.0",
            "input_schema": RestaurantBookingInput.model_json_schema(),
            "capabilities": {
                "phases": ["dial", "negotiate", "confirm"],
                "ask_user": {
                    "channels": ["stream", "webhook"],
                    "answer_modes": ["voice", "context"],
                },
                "idempotency": {"header": "Idempotency-Key", "max_length": 255},
            },
        }
    )


def _idempotency_error(code: str, message: str) -> ApiError:
    return ApiError(409, {"detail": {"code": code, "message": message}})


async def run_skill(request: Request) -> Response:
    """Stripe-style: a key claims its slot before the call starts; a replay answers the
    first response with ``replayed: true``; a failed start frees the key again."""
    state, key = state_of(request), caller_key(request)
    if request.path_params["skill_id"] != SKILL_ID:
        raise ApiError(404, {"detail": "Unknown skill"})
    idem = request.headers.get("idempotency-key")
    if idem is not None and len(idem) > 255:
        detail = {"code": "idempotency_key_too_long", "message": "Idempotency-Key > 255 chars"}
        raise ApiError(400, {"detail": detail})
    raw = await json_body(request)
    if not isinstance(raw, dict):
        raise invalid(
            validation_detail(["body"], "Input should be a valid dictionary", "dict_type")
        )
    data = parse(RestaurantBookingInput, raw, "body")
    slot = (key, idem) if idem else None
    if slot is not None:
        record = state.skill_runs.get(slot)
        if record is not None:
            if record["fingerprint"] != skill_fingerprint(raw):
                raise _idempotency_error("idempotency_conflict", "Key reused with another body")
            if record["phase"] == "in_progress":
                raise _idempotency_error("idempotency_in_progress", "This run is in progress")
            if record["phase"] != "done":
                message = "State unknown: verify via GET /calls before retrying with a NEW key"
                raise _idempotency_error("idempotency_state_unknown", message)
            return JSONResponse({**record["body"], "replayed": True}, status_code=record["status"])
        state.skill_runs[slot] = {"fingerprint": skill_fingerprint(raw), "phase": "in_progress"}
    state.start_requests += 1
    brief = (
        f"Book a table for {data.party_size} at {data.venue_name} on {data.date or 'today'} "
        f"at {data.time} under the name {data.name}."
        + (f" Notes: {data.notes}" if data.notes else "")
    )
    body = StartCallBody(
        target_phone=data.target_phone,
        brief=brief,
        language=data.language,
        kind=TaskKind.RESTAURANT_BOOKING,
        parsed_slots=data.model_dump(),
        ask_user_mode="stream",
    )
    try:
        call = state.start_call(key, body)
    except ApiError:
        if slot is not None:
            del state.skill_runs[slot]
        raise
    answer = SkillRunResponse(
        skill_run_id=f"srun_{call.call_id}",
        call_id=call.call_id,
        call_sid=call.call_sid,
        owner_pod=OWNER_POD,
        status=call.status,
        credits_reserved=state.config.credits_per_call,
        status_url=f"/calls/{call.call_id}",
        answer_url=f"/calls/{call.call_id}/answer",
        recording_url=f"/calls/{call.call_id}/recording",
        expected_next_steps=[
            f"Subscribe to GET /calls/{call.call_id}/events",
            "Answer ask_user events via POST answer_url",
            "Read the outcome from GET status_url",
        ],
    ).model_dump(mode="json")
    status = 202 if call.status == "queued" else 201
    if slot is not None:
        state.skill_runs[slot].update(phase="done", status=status, body=answer)
    return JSONResponse(answer, status_code=status)
