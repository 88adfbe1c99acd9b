"""`concierge demo | serve | sandbox | db upgrade | secrets rotate` (names per the runtime
contract)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import sys

from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette

from bot.console.app import ConsoleOutlet, ConsoleReplier, run_console, stdin_lines
from bot.console.friends import ScriptedFriends
from bot.logs import configure_logging
from bot.rotate import rotate_secrets
from bot.services import background_loops, running_services
from bot.settings import DATA_DIR, Settings, secret
from bot.webhooks import webhook_routes
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    DEFAULT_EVENTS_KEY,
    DEFAULT_NEGOTIATED_KEY,
    DEFAULT_ONEGENT_KEY,
    VOYAGENT_DEFAULT_EMAIL,
    VOYAGENT_DEFAULT_PASSWORD,
    EventsSandboxConfig,
    SandboxConfig,
    VoyagentSandboxConfig,
    run_sandbox,
    running_callagent_sandbox,
    running_events_sandbox,
    running_onegent_sandbox,
    running_outgoing_sandbox,
    running_voyagent_sandbox,
    serve_in_background,
)
from storage.crypto import FieldCipher, InvalidSecretKey, generate_key
from storage.migrate import upgrade

SECRET_FILE = DATA_DIR / "secret.key"
DEMO_SETTLE_S = 20.0


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        )
        raise SystemExit(f"concierge: invalid configuration: {problems}") from None


def _check_secret_key(settings: Settings) -> None:
    """A malformed key stops the process with a clear message (the key is never echoed)."""
    if settings.secret_key is None:
        raise SystemExit(
            "concierge: CONCIERGE_SECRET_KEY is required by `serve` (32 random bytes, URL-safe "
            'base64). Make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        )
    try:
        FieldCipher(secret(settings.secret_key) or "", secret(settings.secret_key_previous))
    except InvalidSecretKey as error:
        raise SystemExit(
            "concierge: CONCIERGE_SECRET_KEY (or CONCIERGE_SECRET_KEY_PREVIOUS) is malformed: "
            f"{error}"
        ) from None


def _demo_secret_key() -> str:
    """The demo keeps its own key in ./.concierge/ so its encrypted data survives restarts."""
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    SECRET_FILE.write_text(key + "\n")
    SECRET_FILE.chmod(0o600)
    return key


async def _demo(settings: Settings) -> None:
    """Sandbox partners and our webhook routes on loopback, then the terminal chat."""
    if settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": SecretStr(_demo_secret_key())})
    hooks = Starlette(routes=webhook_routes())
    async with (
        running_outgoing_sandbox(SandboxConfig()) as sandbox,
        running_callagent_sandbox() as calls,
        running_onegent_sandbox() as onegent,
        running_events_sandbox(EventsSandboxConfig.fast()) as events,
        running_voyagent_sandbox(VoyagentSandboxConfig()) as agency,
        serve_in_background(hooks) as hooks_url,
    ):
        settings = settings.model_copy(
            update={
                "outgoing_api_url": sandbox.base_url,
                "outgoing_api_key": SecretStr(DEFAULT_NEGOTIATED_KEY),
                "call_agent_api_url": calls.base_url,
                "call_agent_api_key": SecretStr(DEFAULT_CALL_AGENT_KEY),
                "onegent_api_url": onegent.base_url,
                "onegent_api_key": SecretStr(DEFAULT_ONEGENT_KEY),
                "events_api_url": events.base_url,
                "events_api_key": SecretStr(DEFAULT_EVENTS_KEY),
                "voyagent_api_url": agency.base_url,
                "voyagent_email": VOYAGENT_DEFAULT_EMAIL,
                "voyagent_password": SecretStr(VOYAGENT_DEFAULT_PASSWORD),
                "public_url": hooks_url,
            }
        )
        async with running_services(settings) as services:
            hooks.state.services = services
            interactive = sys.stdin.isatty()
            replier = ConsoleReplier(sys.stdout, interactive=interactive)
            services.outlets["console"] = ConsoleOutlet(replier)
            friends = ScriptedFriends(services.manager, services.work, replier)
            replier.watch(friends.saw)
            # What to try comes next, in the welcome (which says when it is offline).
            banner = (
                "Concierge demo: sandbox partners on loopback, data in ./.concierge/."
                + ("" if services.offline else f" Using {settings.llm_model}.")
                + f" {friends.introduction}"
                + (" Say `quit` to leave." if interactive else "")
            )
            async with background_loops(services):
                await run_console(
                    services.manager,
                    services.work,
                    stdin_lines(),
                    replier,
                    sys.stdout,
                    interactive=interactive,
                    banner=banner,
                    settle=lambda: services.settle_jobs(DEMO_SETTLE_S),
                )


def _serve(settings: Settings) -> None:
    import uvicorn

    from bot.server import create_app

    _check_secret_key(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # access logs would print capability URLs
        log_config=None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="concierge", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="log at DEBUG (secrets stay redacted)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="terminal chat on SQLite with in-process sandbox partners")
    commands.add_parser("serve", help="the production server on CONCIERGE_HOST:CONCIERGE_PORT")
    sandbox = commands.add_parser("sandbox", help="the sandbox partner APIs alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--search-latency", type=float, default=None, help="seconds per search")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    keys = commands.add_parser("secrets", help="re-seal stored data under CONCIERGE_SECRET_KEY")
    keys.add_argument("action", choices=["rotate"])
    args = parser.parse_args(argv)

    settings = _load_settings()
    known_secrets = [
        value
        for value in (
            secret(settings.secret_key),
            secret(settings.anthropic_api_key),
            secret(settings.outgoing_api_key),
            secret(settings.slack_bot_token),
            secret(settings.slack_signing_secret),
            secret(settings.slack_app_token),
            secret(settings.slack_client_secret),
            secret(settings.telegram_bot_token),
        )
        if value
    ]
    level = logging.DEBUG if args.debug else logging.INFO
    if args.command == "demo":
        level = logging.DEBUG if args.debug else logging.WARNING  # keep the chat readable
    configure_logging(level, known_secrets)

    if args.command == "demo":
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the demo quietly
            asyncio.run(_demo(settings))
    elif args.command == "serve":
        _serve(settings)
    elif args.command == "sandbox":
        config = SandboxConfig()
        if args.search_latency is not None:
            config = dataclasses.replace(config, search_latency_s=args.search_latency)
        print(f"Sandbox Outgoing API on http://{args.host}:{args.port}/partner/v1", file=sys.stderr)
        print(f"Negotiated key: {DEFAULT_NEGOTIATED_KEY}", file=sys.stderr)
        run_sandbox(args.host, args.port, config)
    elif args.command == "db":
        asyncio.run(upgrade(settings.database_url))
        print("database is up to date", file=sys.stderr)
    elif args.command == "secrets":
        _check_secret_key(settings)
        if asyncio.run(rotate_secrets(settings)).unreadable:
            raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
