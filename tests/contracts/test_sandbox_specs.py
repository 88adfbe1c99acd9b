"""The sandbox partners follow their partners' OpenAPI specs: schemathesis generates valid and
invalid requests for every operation and checks status codes, content types, headers and
bodies against the spec (copies of the partners' files in tests/contracts/specs), with the
adjusted checks of `tests/contracts/checks.py`."""

from __future__ import annotations

import schemathesis

from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig
from integrations.sandbox.callagent import create_callagent_app
from integrations.sandbox.callagent_config import DEFAULT_CALL_AGENT_KEY
from integrations.sandbox.outgoing import create_outgoing_app
from tests.contracts.checks import EXAMPLES, SPECS, Case, validate

outgoing = schemathesis.openapi.from_path(SPECS / "outgoing-partner-api.openapi.json")
outgoing.app = create_outgoing_app(SandboxConfig.fast(search_latency_s=0.0))

call_agent = schemathesis.openapi.from_path(SPECS / "ai-call-agent.openapi.json")
call_agent.app = create_callagent_app()


@outgoing.parametrize()
@EXAMPLES
def test_the_outgoing_sandbox_follows_its_spec(case: Case) -> None:
    validate(case, {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"})


@call_agent.parametrize()
@EXAMPLES
def test_the_call_agent_sandbox_follows_its_spec(case: Case) -> None:
    validate(case, {"X-API-Key": DEFAULT_CALL_AGENT_KEY})
