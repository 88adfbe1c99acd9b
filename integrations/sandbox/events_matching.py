"""Deterministic matches for the Events sandbox: the same attendees give the same scores.

Goal sub-scores compare word sets of an attendee's ``needs`` with another's ``offers``
(from the import's ``raw_data``); the other sub-scores come from a hash of the pair, so
every pair scores differently but always the same way. Each match says why, in ``reasons``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from integrations.sandbox.events_state import now

__all__ = ["ALGORITHM_VERSION", "score_event"]

ALGORITHM_VERSION = "sandbox-match-1"
POLICY_VERSION = "sandbox-policy-1"


def _words(value: Any) -> set[str]:
    return {w.strip(".,;").casefold() for w in str(value or "").split() if len(w) > 2}


def _overlap(a: set[str], b: set[str]) -> float:
    return round(len(a & b) / len(a | b), 4) if a and b else 0.0


def _hashed(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return round(int.from_bytes(digest[:4], "big") / 2**32, 4)


def event_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The attendee's event fields (``goal``, ``needs``, ``offers`` from ``raw_data``)."""
    raw = row.get("raw_data") or {}
    return {name: raw.get(name) for name in ("role_at_event", "goal", "needs", "offers")}


def _pair(event_id: str, run_id: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    fa, fb = event_fields(a), event_fields(b)
    n2o = _overlap(_words(fa["needs"]), _words(fb["offers"]))
    o2n = _overlap(_words(fa["offers"]), _words(fb["needs"]))
    value = _hashed("value", *sorted((a["attendee_id"], b["attendee_id"])))
    general = _hashed("general", *sorted((a["attendee_id"], b["attendee_id"])))
    complementarity = round(max(n2o, o2n), 4)
    a_to_b = round(0.5 * n2o + 0.25 * value + 0.25 * general, 4)
    b_to_a = round(0.5 * o2n + 0.25 * value + 0.25 * general, 4)
    final = round(0.6 * complementarity + 0.2 * value + 0.2 * general, 4)
    direction = "needsToOffers" if n2o >= o2n else "offersToNeeds"
    reasons = []
    if n2o:
        reasons.append(f"{a['name']} needs what {b['name']} offers")
    if o2n:
        reasons.append(f"{a['name']} offers what {b['name']} needs")
    reasons.append("similar background" if general >= 0.5 else "different background")
    stamp = now()
    ids = (a["attendee_id"], b["attendee_id"])
    return {
        "event_id": event_id,
        "match_id": f"m_{_hashed(run_id, *ids)}".replace(".", ""),
        "run_id": run_id,
        "principal_attendee_id": ids[0],
        "target_attendee_id": ids[1],
        "final_score": final,
        "sub_scores": {
            "goal_complementarity": complementarity,
            "goal_needs_to_offers": n2o,
            "goal_offers_to_needs": o2n,
            "value_alignment": value,
            "general_similarity": general,
            "score_a_to_b": a_to_b,
            "score_b_to_a": b_to_a,
        },
        "best_goal_match": {"score": complementarity, "direction": direction},
        "driving_goal_pair": {"score": complementarity, "direction": direction},
        "intent_strength": {"aToB": a_to_b, "bToA": b_to_a},
        "input_hash": hashlib.sha256(repr((fa, fb)).encode()).hexdigest()[:16],
        "algorithm_version": ALGORITHM_VERSION,
        "policy_version": POLICY_VERSION,
        "context_snapshot_id": f"ctx_{run_id}",
        "freshness": {"computed_at": stamp},
        "computed_at": stamp,
        "reasons": reasons,
        "goal": fa["goal"],
    }


def score_event(
    event_id: str, run_id: str, attendees: list[dict[str, Any]], top_n: int
) -> list[dict[str, Any]]:
    """Every attendee's ``top_n`` best ordered pairs, best first (ties by ids)."""
    matches: list[dict[str, Any]] = []
    for a in attendees:
        scored = [_pair(event_id, run_id, a, b) for b in attendees if b is not a]
        scored.sort(key=lambda m: (-m["final_score"], m["target_attendee_id"]))
        matches += scored[:top_n]
    return sorted(
        matches,
        key=lambda m: (-m["final_score"], m["principal_attendee_id"], m["target_attendee_id"]),
    )
