"""Spec-following fake partner servers for ``concierge demo``, ``concierge sandbox`` and tests.

The Outgoing sandbox (``create_outgoing_app``) serves the whole ``/partner/v1`` API from a
fixture catalogue; the AI Call Agent sandbox (``create_callagent_app``) plays scripted
phone calls with SSE events; the Events sandbox (``create_events_app``) serves
events, attendee imports, polled runs, matches and identity reviews; the Onegent sandbox
(``create_onegent_app``) runs scripted ``/api/v1`` booking jobs; ``serve_in_background``
runs any ASGI app on loopback; the Voyagent sandbox (``create_voyagent_app``) is a travel
agency's API whose scripted agent streams its turns over SSE and pauses at approvals.
"""

from integrations.sandbox.callagent import callagent_state, create_callagent_app
from integrations.sandbox.callagent_state import (
    DEFAULT_CALL_AGENT_ADMIN_KEY,
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    CallAgentSandboxState,
    SandboxQuestion,
)
from integrations.sandbox.config import (
    DEFAULT_BIND_TEAM_ID,
    DEFAULT_BIND_TOKEN,
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_SELF_SERVE_KEY,
    DEFAULT_TRIAL_EXHAUSTED_KEY,
    BindToken,
    ForcedResponse,
    SandboxConfig,
)
from integrations.sandbox.events import create_events_app, events_state
from integrations.sandbox.events_state import (
    DEFAULT_EVENTS_KEY,
    DEFAULT_EVENTS_READ_KEY,
    EventsSandboxConfig,
    EventsSandboxState,
)
from integrations.sandbox.onegent import create_onegent_app, onegent_state
from integrations.sandbox.onegent_config import DEFAULT_ONEGENT_KEY, OnegentSandboxConfig
from integrations.sandbox.onegent_state import OnegentSandboxState
from integrations.sandbox.outgoing import create_outgoing_app, sandbox_state
from integrations.sandbox.receiver import WebhookReceiver
from integrations.sandbox.server import (
    RunningCallAgentSandbox,
    RunningEventsSandbox,
    RunningOnegentSandbox,
    RunningSandbox,
    RunningVoyagentSandbox,
    run_sandbox,
    running_callagent_sandbox,
    running_events_sandbox,
    running_onegent_sandbox,
    running_outgoing_sandbox,
    running_voyagent_sandbox,
    serve_in_background,
)
from integrations.sandbox.state import SandboxState
from integrations.sandbox.voyagent import create_voyagent_app, voyagent_state
from integrations.sandbox.voyagent_state import AGENT_EMAIL as VOYAGENT_AGENT_EMAIL
from integrations.sandbox.voyagent_state import DEFAULT_EMAIL as VOYAGENT_DEFAULT_EMAIL
from integrations.sandbox.voyagent_state import DEFAULT_PASSWORD as VOYAGENT_DEFAULT_PASSWORD
from integrations.sandbox.voyagent_state import OTHER_TENANT_EMAIL as VOYAGENT_OTHER_TENANT_EMAIL
from integrations.sandbox.voyagent_state import TOTP_EMAIL as VOYAGENT_TOTP_EMAIL
from integrations.sandbox.voyagent_state import (
    VoyagentSandboxConfig,
    VoyagentSandboxState,
)

__all__ = [
    "DEFAULT_BIND_TEAM_ID",
    "DEFAULT_BIND_TOKEN",
    "DEFAULT_CALL_AGENT_ADMIN_KEY",
    "DEFAULT_CALL_AGENT_KEY",
    "DEFAULT_EVENTS_KEY",
    "DEFAULT_EVENTS_READ_KEY",
    "DEFAULT_NEGOTIATED_KEY",
    "DEFAULT_ONEGENT_KEY",
    "DEFAULT_SELF_SERVE_KEY",
    "DEFAULT_TRIAL_EXHAUSTED_KEY",
    "VOYAGENT_AGENT_EMAIL",
    "VOYAGENT_DEFAULT_EMAIL",
    "VOYAGENT_DEFAULT_PASSWORD",
    "VOYAGENT_OTHER_TENANT_EMAIL",
    "VOYAGENT_TOTP_EMAIL",
    "BindToken",
    "CallAgentSandboxConfig",
    "CallAgentSandboxState",
    "EventsSandboxConfig",
    "EventsSandboxState",
    "ForcedResponse",
    "OnegentSandboxConfig",
    "OnegentSandboxState",
    "RunningCallAgentSandbox",
    "RunningEventsSandbox",
    "RunningOnegentSandbox",
    "RunningSandbox",
    "RunningVoyagentSandbox",
    "SandboxConfig",
    "SandboxQuestion",
    "SandboxState",
    "VoyagentSandboxConfig",
    "VoyagentSandboxState",
    "WebhookReceiver",
    "callagent_state",
    "create_callagent_app",
    "create_events_app",
    "create_onegent_app",
    "create_outgoing_app",
    "create_voyagent_app",
    "events_state",
    "onegent_state",
    "run_sandbox",
    "running_callagent_sandbox",
    "running_events_sandbox",
    "running_onegent_sandbox",
    "running_outgoing_sandbox",
    "running_voyagent_sandbox",
    "sandbox_state",
    "serve_in_background",
    "voyagent_state",
]
