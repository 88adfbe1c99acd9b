"""The spec's response shapes: ``{"error": ...}`` errors and FastAPI-style 422 validation.

Handlers raise :class:`ApiError`; the app turns it into its JSON response.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import pydantic
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ApiError",
    "error",
    "invalid",
    "json_body",
    "one_route",
    "parse",
    "parse_uuid",
    "query_data",
    "respond",
    "validation_detail",
]

M = TypeVar("M", bound=pydantic.BaseModel)
_UUID = pydantic.TypeAdapter(uuid.UUID)


class ApiError(Exception):
    """An error response: raised anywhere in a handler, answered as JSON."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def error(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> ApiError:
    """``{"error": message, **extra}`` — the spec's one error shape."""
    return ApiError(status, {"error": message, **extra}, headers)


def validation_detail(loc: Sequence[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": type_}


def invalid(*details: dict[str, Any]) -> ApiError:
    """A 422 ``HTTPValidationError``: ``{"detail": [{"loc", "msg", "type"}, ...]}``."""
    return ApiError(422, {"detail": list(details)})


def _from_pydantic(exc: pydantic.ValidationError, where: str) -> ApiError:
    return invalid(
        *(
            validation_detail([where, *e["loc"]], e["msg"], e["type"])
            for e in exc.errors(include_url=False)
        )
    )


def parse(model: type[M], data: Any, where: str) -> M:
    """Validate ``data`` (from ``where``: "query", "body", "path") or raise a 422."""
    try:
        if where == "body" and isinstance(data, dict):
            # The server ignores unknown fields (as FastAPI does); our request models forbid
            # them. JSON types are taken as the spec gives them: "1.5" is not a number.
            known = {k: v for k, v in data.items() if k in model.model_fields}
            return model.model_validate_json(json.dumps(known), strict=True)
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _from_pydantic(exc, where) from exc


def parse_uuid(value: str, name: str) -> str:
    """A ``format: uuid`` path parameter, lower-cased; 422 (``uuid_parsing``) otherwise."""
    try:
        return str(_UUID.validate_python(value))
    except pydantic.ValidationError as exc:
        details = [
            validation_detail(["path", name], e["msg"], e["type"])
            for e in exc.errors(include_url=False)
        ]
        raise invalid(*details) from exc


def query_data(request: Request, lists: Sequence[str] = ()) -> dict[str, Any]:
    """Query parameters as a dict; names in ``lists`` keep every value (repeated or comma-split)."""
    data: dict[str, Any] = {}
    for name in request.query_params:
        if name in lists:
            values = request.query_params.getlist(name)
            data[name] = [part for v in values for part in v.split(",") if part]
        else:
            data[name] = request.query_params[name]
    return data


async def json_body(request: Request) -> Any:
    """The JSON body, or the 422 FastAPI gives for a missing or unparsable one."""
    raw = await request.body()
    if not raw.strip():
        raise invalid(validation_detail(["body"], "Field required", "missing"))
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise invalid(
            validation_detail(["body", position], "JSON decode error", "json_invalid")
        ) from exc


def respond(
    model: pydantic.BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]


def one_route(path: str, endpoints: Mapping[str, Endpoint]) -> Route:
    """One route for every method of `path` (``{"GET": list_calls, "POST": start_call}``), so
    a 405 names them all in its ``Allow`` header, as HTTP asks."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return Route(path, endpoint, methods=list(endpoints))
