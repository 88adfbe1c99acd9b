"""The checks every contract test here runs with schemathesis, adjusted to the specs' words.

Generated "valid" data carries ids that name nothing and strings that are no H3 cell, which a
partner rightly refuses, so `positive_data_acceptance` is off. The specs give most error codes
in prose rather than in each operation's `responses` (Outgoing: "`404` for unknown resources,
`400` for validation failures"; the Call Agent: "* 404 — …" in each operation's
description), so `status_code_conformance` becomes `documented_status`: a listed code, or one
the operation's or the API's description names, or 404 for an id that names nothing, with an
error body."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
)

SPECS = Path(__file__).parent / "specs"
Case = schemathesis.Case[Any]
Check = Callable[[Any, Any, Case], bool | None]
EXAMPLES = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def documented_status(ctx: Any, response: Any, case: Case) -> bool:
    """The code is listed for the operation, or named in its description or the API's (as an
    error, with a JSON `error` or `detail`); 405 for a method the path does not have."""
    operation = case.operation.definition.raw
    if str(response.status_code) in operation.get("responses", {}):
        return True
    if response.status_code == 405 and case.method.upper() != case.operation.method.upper():
        return True  # schemathesis' `unsupported_method` probe
    if response.status_code == 404 and "{" in case.operation.path:
        return _error_body(response)  # an id that names nothing: REST's unknown resource
    prose = " ".join(
        str(text)
        for text in (
            operation.get("description"),
            operation.get("summary"),
            case.operation.schema.raw_schema.get("info", {}).get("description"),
        )
        if text
    )
    assert re.search(rf"\b{response.status_code}\b", prose), (
        f"{case.operation.label}: {response.status_code} is not documented"
    )
    return _error_body(response)


def _error_body(response: Any) -> bool:
    body = response.json()
    assert isinstance(body, dict) and ("error" in body or "detail" in body), body
    return True


def rejects_invalid_data(sent: Mapping[str, str]) -> Check:
    """schemathesis' `negative_data_rejection`, except where the request that arrives is not
    invalid: query parameters the operation does not list (OpenAPI does not forbid them, and
    the partners, FastAPI apps, ignore them); a one-value query parameter sent several times
    (FastAPI takes the last); a header made invalid that the test replaces with its own
    (`sent`: the credential)."""
    replaced = {name.lower() for name in sent}

    def check(ctx: Any, response: Any, case: Case) -> bool | None:
        parameters = case.operation.definition.raw.get("parameters", [])
        listed = {p.get("name") for p in parameters}
        query = case.query or {}
        if set(query) - listed:
            return None
        scalar = {p.get("name") for p in parameters if p.get("schema", {}).get("type") != "array"}
        if any(isinstance(query[name], list | dict) for name in scalar & set(query)):
            return None
        meta = case.meta
        if meta is not None and _only_header_mutated(meta, replaced):
            return None
        return negative_data_rejection(ctx, response, case)

    return check


def _only_header_mutated(meta: Any, replaced: set[str]) -> bool:
    """The case's one invalid part is a header the test sends itself."""
    negative = {where for where, info in meta.components.items() if info.mode.is_negative}
    mutated = getattr(meta.phase.data, "parameter", None)
    return (
        negative == {ParameterLocation.HEADER}
        and isinstance(mutated, str)
        and mutated.lower() in replaced
    )


def validate(case: Case, headers: dict[str, str], base_url: str | None = None) -> None:
    """Send the case (to the schema's app, or to a server at `base_url`) and run the checks."""
    case.call_and_validate(
        base_url=base_url,
        headers=headers,
        excluded_checks=[
            positive_data_acceptance,
            status_code_conformance,
            negative_data_rejection,
        ],
        additional_checks=[documented_status, rejects_invalid_data(headers)],
    )
