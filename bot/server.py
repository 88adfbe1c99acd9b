"""The `serve` Starlette app: health, metrics, every configured front-end, and the outbox."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.bind import BindThrottle, bind_routes
from bot.frontend import FrontEnd
from bot.services import Services, background_loops, running_services
from bot.settings import Settings
from bot.webhooks import webhook_routes
from conversations import LLM

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    async with services.db.session(read_only=True) as session:
        await session.connection()
    return JSONResponse({"ok": True, "running_work": services.work.running})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def configured_front_ends(settings: Settings) -> list[FrontEnd]:
    """Every front-end whose settings are present."""
    front_ends: list[FrontEnd] = []
    slack_tokens = settings.slack_bot_token or (
        settings.slack_client_id and settings.slack_client_secret
    )
    if slack_tokens and (settings.slack_signing_secret or settings.slack_app_token):
        from bot.slack import SlackFrontEnd

        front_ends.append(SlackFrontEnd(settings))
    if settings.telegram_bot_token:
        from bot.telegram import TelegramFrontEnd

        front_ends.append(TelegramFrontEnd(settings))
    return front_ends


def keep_out_of_collections() -> None:
    """What exists once `serve` has started (modules, settings, clients) lives as long as the
    process: freeze it, so the collector's full passes skip it. Unfrozen, a full pass over
    the whole heap stopped the event loop for 200 ms, several times a minute under load."""
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    front_ends: Sequence[FrontEnd] | None = None,
    *,
    llm: LLM | None = None,
    progress_interval_s: float | None = None,
    bind_throttle: BindThrottle | None = None,
) -> Starlette:
    """The `serve` app; `llm`, `progress_interval_s` and `bind_throttle` (its limits and
    clock) are for tests and benchmarks."""
    chosen = list(configured_front_ends(settings) if front_ends is None else front_ends)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(
            settings, llm=llm, progress_interval_s=progress_interval_s
        ) as services:
            app.state.services = services
            for front_end in chosen:
                services.outlets[front_end.platform] = front_end.outlet()
                await front_end.start(services)
            keep_out_of_collections()
            try:
                async with background_loops(services):
                    yield
            finally:
                for front_end in chosen:
                    await front_end.stop()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        *webhook_routes(),
        *bind_routes(bind_throttle),
    ]
    for front_end in chosen:
        routes.extend(front_end.routes())
    return Starlette(routes=routes, lifespan=lifespan)
