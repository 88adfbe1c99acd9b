"""What is Outgoing's own on the wire; everything else is the shared ``PartnerTransport``.

* which key this is (negotiated keys name a user with ``X-External-User-Id``, self-serve
  keys must never send it),
* its error envelope (``{"error": "…", "code": "…"}``; 422s are FastAPI's ``{"detail": […]}``),
* the AAuth ``202`` "interaction required" answer, refused as
  :class:`~integrations.errors.InteractionRequired` before it can pass for a success.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import httpx

from integrations.error_bodies import ErrorBody, json_payload, read_error_body
from integrations.errors import InteractionRequired, ResponseInvalid
from integrations.outgoing.endpoints import POLL_INTERACTION, Endpoint, UserHeader
from integrations.transport import Redactor, Route

__all__ = [
    "PARTNER",
    "USER_HEADER",
    "KeyKind",
    "check_aauth",
    "parse_aauth_requirement",
    "read_outgoing_error",
    "user_header",
]

PARTNER = "outgoing"
USER_HEADER = "X-External-User-Id"
_SAFE_USER_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_AAUTH_PARAM = re.compile(r'([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')


class KeyKind(StrEnum):
    """Which Outgoing credential this is (see the spec's "Identifying the user")."""

    NEGOTIATED = "negotiated"  # multi-user: X-External-User-Id required
    SELF_SERVE = "self_serve"  # bound to one user: X-External-User-Id refused with 400


def user_header(kind: KeyKind, endpoint: Endpoint, user: str | None) -> dict[str, str]:
    """The external user header this key and endpoint call for (checked, never echoed)."""
    if kind is KeyKind.SELF_SERVE:
        return {}  # the key already names its user; the header would be a 400
    if user is None:
        if endpoint.user is UserHeader.REQUIRED:
            raise ValueError(
                f"{endpoint.label} needs the external user id (user=...) with a negotiated key"
            )
        return {}
    if not _SAFE_USER_ID.fullmatch(user):
        raise ValueError("the external user id is empty or not printable ASCII")
    return {USER_HEADER: user}


def read_outgoing_error(status: int, body: bytes) -> ErrorBody:
    """The spec's ``{"error": message, "code"?: …}`` (402s may repeat it as ``detail``);
    anything off-spec (a proxy's page, a 422 list) goes to the lenient reader."""
    payload = json_payload(body)
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        code, detail = payload.get("code"), payload.get("detail")
        return ErrorBody(
            payload["error"],
            code if isinstance(code, str) else None,
            detail if isinstance(detail, list) else None,
        )
    return read_error_body(status, body)


def parse_aauth_requirement(value: str) -> dict[str, str]:
    """``requirement=interaction; url="…"; code="…"`` → ``{"requirement": …, "url": …}``."""
    params: dict[str, str] = {}
    for match in _AAUTH_PARAM.finditer(value):
        raw = match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    return params


def check_aauth(route: Route, response: httpx.Response, redact: Redactor) -> None:
    """A ``202`` with ``AAuth-Requirement: requirement=interaction`` is not a success: a
    person must act in a browser first (except on the poll endpoint, where 202 = pending)."""
    if response.status_code != 202 or route is POLL_INTERACTION:
        return
    requirement = parse_aauth_requirement(response.headers.get("aauth-requirement", ""))
    if requirement.get("requirement") != "interaction":
        return
    url, code = requirement.get("url"), requirement.get("code")
    location = response.headers.get("location")
    if not url or not code or not location:
        raise ResponseInvalid(
            f"{route.label}: AAuth interaction 202 without url, code or Location",
            partner=PARTNER,
            status=202,
            endpoint=route.label,
        )
    message = "Interaction required."
    payload: Any = json_payload(response.content)
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        message = redact(payload["error"])
    raise InteractionRequired(
        message, partner=PARTNER, url=url, code=code, poll_url=str(response.url.join(location))
    )
