"""Spec-following fake partner servers for ``concierge demo``, ``concierge sandbox`` and tests.

The Outgoing sandbox (``create_outgoing_app``) serves the whole ``/partner/v1`` API from a
fixture catalogue; ``serve_in_background`` runs any ASGI app on loopback.
"""

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
from integrations.sandbox.outgoing import create_outgoing_app, sandbox_state
from integrations.sandbox.receiver import WebhookReceiver
from integrations.sandbox.server import (
    RunningSandbox,
    run_sandbox,
    running_outgoing_sandbox,
    serve_in_background,
)
from integrations.sandbox.state import SandboxState

__all__ = [
    "DEFAULT_BIND_TEAM_ID",
    "DEFAULT_BIND_TOKEN",
    "DEFAULT_NEGOTIATED_KEY",
    "DEFAULT_SELF_SERVE_KEY",
    "DEFAULT_TRIAL_EXHAUSTED_KEY",
    "BindToken",
    "ForcedResponse",
    "RunningSandbox",
    "SandboxConfig",
    "SandboxState",
    "WebhookReceiver",
    "create_outgoing_app",
    "run_sandbox",
    "running_outgoing_sandbox",
    "sandbox_state",
    "serve_in_background",
]
