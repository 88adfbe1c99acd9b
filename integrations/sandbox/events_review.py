"""The Events sandbox's match reads and review queue handlers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from integrations.sandbox import events_validation as v
from integrations.sandbox.events_routes import (
    Answer,
    attendee_of,
    event_of,
    listed,
    read_body,
    session_of,
    state_of,
)
from integrations.sandbox.events_state import SandboxRun

_DECISIONS = frozenset({"accept", "reject", "distinct"})


def _match_run(request: Request, event_id: str) -> SandboxRun:
    """The asked-for match run of this event, or its latest terminal one."""
    runs = state_of(request).runs
    wanted = request.query_params.get("run_id")
    if wanted is not None:
        run = runs.get(wanted)
        if run is None or run.kind != "match" or run.event_id != event_id:
            raise v.api_error(404, "MATCH_RUN_NOT_FOUND", "No such match run for this event")
        return run
    done = [r for r in runs.values() if r.kind == "match" and r.event_id == event_id]
    done = [r for r in done if r.terminal_at is not None]
    if not done:
        raise v.api_error(404, "MATCH_RUN_NOT_FOUND", "No finished match run for this event")
    return max(done, key=lambda r: r.terminal_at or "")


async def attendee_matches(request: Request) -> Answer:
    row, event_id = attendee_of(request), event_of(request)["event_id"]
    run = _match_run(request, event_id)
    mine = [m for m in run.matches if m["principal_attendee_id"] == row["attendee_id"]]
    extra = {"event_id": event_id, "attendee_id": row["attendee_id"], "run_id": run.run_id}
    return listed(request, mine, **extra)


async def event_matches(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    session_id = request.query_params.get("session_id")
    if session_id is not None:
        session_of(request, event_id, session_id)
    run = _match_run(request, event_id)
    goal = (request.query_params.get("goal") or "").casefold()
    items = [m for m in run.matches if goal in str(m.get("goal") or "").casefold()]
    return listed(request, items, event_id=event_id, run_id=run.run_id)


async def pair_match(request: Request) -> Answer:
    event_id = event_of(request)["event_id"]
    known = state_of(request).attendees.get(event_id, {})
    pair = (str(request.path_params["principal"]), str(request.path_params["target"]))
    for pid in pair:
        if v.partner_id(pid) not in known:
            raise v.api_error(404, "ATTENDEE_NOT_FOUND", f"No attendee {pid} in this event")
    run = _match_run(request, event_id)
    for match in run.matches:
        if (match["principal_attendee_id"], match["target_attendee_id"]) == pair:
            return 200, match
    raise v.api_error(404, "MATCH_NOT_FOUND", "This run scored no such pair")


async def event_review_queue(request: Request) -> Answer:
    return listed(request, state_of(request).open_reviews(event_of(request)["event_id"]))


async def review_queue(request: Request) -> Answer:
    return listed(request, state_of(request).open_reviews())


def _open_review(request: Request) -> dict[str, Any]:
    review_id = str(request.path_params["review_id"])
    if not review_id.startswith("rev_"):
        raise v.api_error(400, "INVALID_REVIEW_ID", "review_id is not a review id")
    review = state_of(request).reviews.get(review_id)
    if review is None or review["status"] != "open":
        raise v.api_error(404, "REVIEW_NOT_FOUND", "No such open review")
    return review


async def resolve(request: Request) -> Answer:
    review = _open_review(request)
    body = await read_body(request)
    decision = body.get("decision")
    if decision not in _DECISIONS:
        raise v.api_error(400, "INVALID_REVIEW_DECISION", "decision: accept, reject or distinct")
    review["status"] = str(decision)
    reason = str(body.get("reason") or decision)
    state_of(request).decide(review["event_id"], review["partner_id"], str(decision), reason)
    return 200, {
        "review_id": review["review_id"],
        "kind": review["kind"],
        "partner_id": review["partner_id"],
        "decision": decision,
        "logged": True,
        "minted": decision == "distinct",
    }


async def merge(request: Request) -> Answer:
    review = _open_review(request)
    body = await read_body(request)
    kinds = [v.partner_kind(str(body.get(k, ""))) for k in ("source_kind", "target_kind")]
    source, target = (
        v.partner_id(str(body.get(k, "")), k) for k in ("source_partner_id", "target_partner_id")
    )
    if {source, target} - {review["partner_id"], review["candidate_partner_id"]}:
        raise v.api_error(400, "REVIEW_SOURCE_MISMATCH", "The review is not about these two")
    if source == target or kinds != ["attendee", "attendee"]:
        raise v.api_error(400, "MERGE_REJECTED", "Only two different attendees can be merged")
    state = state_of(request)
    rows = state.attendees.get(review["event_id"], {})
    if source not in rows or target not in rows:
        raise v.api_error(404, "PARTNER_ID_NOT_FOUND", "The attendee is not mapped")
    del rows[source]
    review["status"] = "merged"
    state.decide(review["event_id"], target, "merged", f"merged {source}")
    return 200, {
        "review_id": review["review_id"],
        "source": {"kind": "attendee", "partner_id": source},
        "target": {"kind": "attendee", "partner_id": target},
        "merged": True,
        "superseded_anchors": 1,
        "rewritten_anchors": len(state.identity.get((review["event_id"], source), [])),
        "deleted_computations": 0,
    }
