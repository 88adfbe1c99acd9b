"""How an AI Call Agent sandbox route finds its state, its caller's key and its call.

Shared by every route module (calls, events, skills), so each answers the same 401 for an
unknown key and the same stealth 404 for another customer's call.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request

from integrations.sandbox.callagent_records import SandboxCall
from integrations.sandbox.callagent_state import CallAgentSandboxState
from integrations.sandbox.responses import ApiError

__all__ = ["callagent_state", "caller_key", "own_call", "state_of"]


def callagent_state(app: Starlette) -> CallAgentSandboxState:
    """The state of an app made by :func:`create_callagent_app`."""
    state = app.state.callagent
    if not isinstance(state, CallAgentSandboxState):
        raise TypeError("not a Call Agent sandbox app")
    return state


def state_of(request: Request) -> CallAgentSandboxState:
    return callagent_state(request.app)


def caller_key(request: Request, *, query: bool = False) -> str:
    """The caller's known API key, or the 401 every authenticated route answers."""
    key = request.headers.get("x-api-key")
    if key is None and query:
        key = request.query_params.get("api_key")
    if not state_of(request).known(key):
        raise ApiError(401, {"detail": "invalid api key"})
    assert key is not None
    return key


def own_call(request: Request, key: str) -> SandboxCall:
    """The caller's call; unknown and foreign calls look the same (stealth 404)."""
    call = state_of(request).calls.get(request.path_params["call_id"])
    if call is None or call.key != key:
        raise ApiError(404, {"detail": "Call not found"})
    return call
