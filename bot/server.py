"""The `serve` Starlette app: health, metrics, and (in later steps) the front-ends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services import Services, running_services
from bot.settings import Settings


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    async with services.db.session(read_only=True) as session:
        await session.connection()
    return JSONResponse({"ok": True, "running_work": services.work.running})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings) as services:
            app.state.services = services
            yield

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/metrics", metrics)],
        lifespan=lifespan,
    )
