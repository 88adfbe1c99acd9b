"""The sandbox partners follow their partners' OpenAPI specs: schemathesis generates valid and
invalid requests for every operation and checks status codes, content types, headers and
bodies against the spec (copies of the partners' files in tests/contracts/specs).

Three of schemathesis' checks are adjusted to the specs' own words. Generated "valid" data
carries ids that name nothing and strings that are no H3 cell, which a partner rightly
refuses, so `positive_data_acceptance` is off. And both specs give most error codes in prose
rather than in each operation's `responses` (Outgoing: "`404` for unknown resources, `400`
for validation failures"; the Call Agent: "* 404 — …" in each operation's description), so
`status_code_conformance` becomes `documented_status`: a listed code, or one the operation's
or the API's description names, or 404 for an id that names nothing, with an error body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
)

from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig
from integrations.sandbox.callagent import create_callagent_app
from integrations.sandbox.callagent_config import DEFAULT_CALL_AGENT_KEY
from integrations.sandbox.outgoing import create_outgoing_app

SPECS = Path(__file__).parent / "specs"
Case = schemathesis.Case[Any]
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


def rejects_invalid_data(ctx: Any, response: Any, case: Case) -> bool | None:
    """schemathesis' `negative_data_rejection`, except for query parameters the operation
    does not list: OpenAPI does not forbid them, and the partners (FastAPI) ignore them."""
    listed = {p.get("name") for p in case.operation.definition.raw.get("parameters", [])}
    if set(case.query or {}) - listed:
        return None
    return negative_data_rejection(ctx, response, case)


def _validate(case: Case, headers: dict[str, str]) -> None:
    case.call_and_validate(
        headers=headers,
        excluded_checks=[
            positive_data_acceptance,
            status_code_conformance,
            negative_data_rejection,
        ],
        additional_checks=[documented_status, rejects_invalid_data],
    )


outgoing = schemathesis.openapi.from_path(SPECS / "outgoing-partner-api.openapi.json")
outgoing.app = create_outgoing_app(SandboxConfig.fast(search_latency_s=0.0))

call_agent = schemathesis.openapi.from_path(SPECS / "ai-call-agent.openapi.json")
call_agent.app = create_callagent_app()


@outgoing.parametrize()
@EXAMPLES
def test_the_outgoing_sandbox_follows_its_spec(case: Case) -> None:
    _validate(case, {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"})


@call_agent.parametrize()
@EXAMPLES
def test_the_call_agent_sandbox_follows_its_spec(case: Case) -> None:
    _validate(case, {"X-API-Key": DEFAULT_CALL_AGENT_KEY})
