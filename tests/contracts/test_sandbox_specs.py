"""The sandbox partners follow their partners' OpenAPI specs: schemathesis generates valid and
invalid requests for every operation and checks status codes, content types, headers and
bodies against the spec (copies of the partners' files in tests/contracts/specs), with the
adjusted checks of `tests/contracts/checks.py`.

One pytest test per operation, named by it (`GET /partner/v1/auth`): the suite runs its files
in parallel, and pytest-xdist keeps one result per test id, so operations must not share one.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig
from integrations.sandbox.callagent import create_callagent_app
from integrations.sandbox.callagent_config import DEFAULT_CALL_AGENT_KEY
from integrations.sandbox.outgoing import create_outgoing_app
from tests.contracts.checks import EXAMPLES, SPECS, Case, validate

Operation = APIOperation[Any, Any, Any, Any]

outgoing = schemathesis.openapi.from_path(SPECS / "outgoing-partner-api.openapi.json")
outgoing.app = create_outgoing_app(SandboxConfig.fast(search_latency_s=0.0))

call_agent = schemathesis.openapi.from_path(SPECS / "ai-call-agent.openapi.json")
call_agent.app = create_callagent_app()


def operations(schema: Any) -> list[Any]:
    """Every operation of `schema` as a pytest parameter named by its label."""
    found = [result.ok() for result in schema.get_all_operations()]
    return [pytest.param(operation, id=operation.label) for operation in found]


def follows(operation: Operation, headers: dict[str, str]) -> None:
    """Valid and invalid requests for `operation`, as `schema.parametrize()` makes them."""
    cases = st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode))

    @EXAMPLES
    @given(case=cases)
    def check(case: Case) -> None:
        validate(case, headers)

    check()


@pytest.mark.parametrize("operation", operations(outgoing))
def test_the_outgoing_sandbox_follows_its_spec(operation: Operation) -> None:
    follows(operation, {"Authorization": f"Bearer {DEFAULT_NEGOTIATED_KEY}"})


@pytest.mark.parametrize("operation", operations(call_agent))
def test_the_call_agent_sandbox_follows_its_spec(operation: Operation) -> None:
    follows(operation, {"X-API-Key": DEFAULT_CALL_AGENT_KEY})
