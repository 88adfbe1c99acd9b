"""The shape a correctly signed Slack request body must have before bolt sees it.

bolt parses the body itself (`slack_bolt.request.internals.parse_body`: JSON when the content
type is `application/json` or the body starts with `{`, else a form, whose `payload` field is
JSON for interactivity) and then reads ids out of it with code that assumes Slack's shapes:
`"id" in body["user"]`, `body["authorizations"][0]`, `body["event"]["type"]`,
`body["actions"][0]["action_id"]`. A signed body of another shape (not JSON, an array, an
object without `type`, a `payload` that is not an object, `"user": 5`, …) raises inside bolt
and the request gets a 500, which Slack retries. `malformed` checks exactly those assumptions,
and the fields the concierge's listeners rely on, following the same parse rules bolt will
apply, so such a body gets a plain 400 and reaches nothing.

A gate on shapes, not a second parser: bolt still parses the body, and fields not named here
pass unchecked (Slack adds fields freely, and unknown request types are acknowledged as
today). Required per kind: events (`event_callback`) carry `team_id`, `event_id` and an
`event` object with a `type`; `url_verification` a `challenge`; button clicks
(`block_actions`) a `user` with an `id` and a list of actions, each with an `action_id` (an
empty list is ignored by our middleware before bolt indexes it); slash commands `command`,
`team_id`, `user_id`, `channel_id` and `trigger_id`; `ssl_check` forms pass as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

# Keys bolt's `extract_*` helpers (and our addressing) read as an id: a string, an object
# with string ids, or absent.
_ID_OBJECTS = ("team", "user", "channel", "enterprise")
_ID_FIELDS = ("id", "team_id", "enterprise_id")
# Keys read as plain strings (or absent) wherever they appear.
_STRINGS = (
    "type",
    "subtype",
    "team_id",
    "enterprise_id",
    "user_id",
    "channel_id",
    "thread_ts",
    "api_app_id",
    "event_id",
    "trigger_id",
    "response_url",
    "user_team",
    "context_team_id",
    "context_enterprise_id",
    "app_installed_team_id",
    "function_execution_id",
    "bot_access_token",
)
# Objects bolt looks into with the same helpers (or absent).
_NESTED = (
    "event",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "view",
    "container",
    "function_data",
)
# Lists of objects bolt indexes into (or absent).
_OBJECT_LISTS = ("authorizations", "actions", "response_urls")
_MAX_DEPTH = 3
_COMMAND_FIELDS = ("command", "team_id", "user_id", "channel_id", "trigger_id")


def malformed(text: str, content_type: str | None) -> str | None:
    """None when bolt may take the body; otherwise why not (for the log, never the caller).

    `content_type` is the request's `Content-Type` header as sent."""
    if not text.strip():
        return "empty body"
    media = content_type.split(";")[0] if content_type else None  # as bolt reads it
    if media == "application/json" or text.startswith("{"):
        return _json_object(text, "body")
    fields = dict(parse_qsl(text, keep_blank_values=True))  # the last value wins, as in bolt
    if "payload" in fields:
        return _json_object(fields["payload"], "payload")
    if "ssl_check" in fields:
        return None  # Slack's certificate check: bolt answers it
    if "command" in fields:
        missing = [name for name in _COMMAND_FIELDS if not fields.get(name)]
        return f"slash command without {', '.join(missing)}" if missing else None
    return "a form that is neither a slash command nor an interaction"


def _json_object(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    return _payload(value)


def _payload(body: Mapping[str, Any]) -> str | None:
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return "no type"
    problem = _ids(body, "", 0)
    if problem is not None:
        return problem
    if kind == "url_verification" and not isinstance(body.get("challenge"), str):
        return "url_verification without a challenge"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            return "event_callback without an event type"
        for name in ("team_id", "event_id"):
            if not body.get(name):
                return f"event_callback without {name}"
    if kind == "block_actions":
        user = body.get("user")
        if not isinstance(user, Mapping) or not isinstance(user.get("id"), str):
            return "block_actions without a user id"
        actions = body.get("actions")
        if not isinstance(actions, list):
            return "block_actions without actions"
        if not all(isinstance(action.get("action_id"), str) for action in actions):
            return "block_actions with an action without an action_id"
    return None


def _ids(value: Mapping[str, Any], path: str, depth: int) -> str | None:
    """The first field of `value` (and of the objects in it bolt looks into) of a wrong type."""
    for name in _ID_OBJECTS:
        found = value.get(name)
        if found is None or isinstance(found, str):
            continue
        if not isinstance(found, Mapping):
            return f"{path}{name} is neither an id nor an object"
        for field in _ID_FIELDS:
            if not isinstance(found.get(field), str | None):
                return f"{path}{name}.{field} is not a string"
    for name in _STRINGS:
        if not isinstance(value.get(name), str | None):
            return f"{path}{name} is not a string"
    for name in _OBJECT_LISTS:
        found = value.get(name)
        if found is None:
            continue
        if not isinstance(found, list) or not all(isinstance(item, Mapping) for item in found):
            return f"{path}{name} is not a list of objects"
        if depth < _MAX_DEPTH:
            for index, item in enumerate(found):
                problem = _ids(item, f"{path}{name}[{index}].", depth + 1)
                if problem is not None:
                    return problem
    for name in _NESTED:
        found = value.get(name)
        if found is None:
            continue
        if not isinstance(found, Mapping):
            return f"{path}{name} is not an object"
        if depth < _MAX_DEPTH:
            problem = _ids(found, f"{path}{name}.", depth + 1)
            if problem is not None:
                return problem
    return None
