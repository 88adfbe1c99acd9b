"""The terminal demo in-process: the demo's own console loop and replier, with piped input,
offline planner and a sandbox whose clock is pinned, printing into a buffer."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.applications import Starlette

from bot.console.app import ConsoleOutlet, ConsoleReplier, run_console
from bot.services import background_loops, running_services
from bot.settings import Settings
from bot.webhooks import webhook_routes
from integrations.sandbox import (
    DEFAULT_NEGOTIATED_KEY,
    running_outgoing_sandbox,
    serve_in_background,
)
from storage import generate_key
from tests.transcripts.clock import pinned_sandbox
from tests.transcripts.normalise import normalise

SETTLE_S = 20.0


async def _typed(typed: Iterable[str], out: io.StringIO) -> AsyncIterator[str]:
    """Each line as the demo reads it from a pipe, echoed where a terminal would show it."""
    for line in typed:
        out.write(f"> {line}\n")
        yield line + "\n"


async def demo_output(tmp_path: Path, typed: Iterable[str]) -> str:
    """What `concierge demo` prints for `typed` lines on a pipe, each line shown before its
    answer (the banner left out)."""
    hooks = Starlette(routes=webhook_routes())
    async with (
        running_outgoing_sandbox(pinned_sandbox()) as sandbox,
        serve_in_background(hooks) as hooks_url,
    ):
        settings = Settings(
            CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
            CONCIERGE_SECRET_KEY=generate_key(),
            OUTGOING_API_URL=sandbox.base_url,
            OUTGOING_API_KEY=DEFAULT_NEGOTIATED_KEY,
            CONCIERGE_PUBLIC_URL=hooks_url,
        )
        out = io.StringIO()
        async with running_services(settings) as services:
            hooks.state.services = services
            replier = ConsoleReplier(out, interactive=False)
            services.outlets["console"] = ConsoleOutlet(replier)
            async with background_loops(services):
                await run_console(
                    services.manager,
                    services.work,
                    _typed(typed, out),
                    replier,
                    out,
                    interactive=False,
                    banner="",
                    settle=lambda: services.settle_jobs(SETTLE_S),
                )
    return normalise(out.getvalue().strip("\n"))
