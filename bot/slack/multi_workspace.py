"""Multi-workspace mode (`SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET` set): the OAuth install
routes, installations in our database, rotating bot tokens, and the welcome DM.

`SLACK_BOT_TOKEN` may stay set next to it; it then answers for its own workspace only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.services import Services, field_cipher
from bot.settings import Settings, secret
from bot.slack import oauth
from bot.slack.app import BOT_SCOPES, CONTACT_SCOPE
from bot.slack.clients import SlackClients, web_client
from bot.slack.installations import SlackInstallationStore
from bot.slack.tokens import InstalledTokens
from bot.slack.welcome import Welcomer

log = logging.getLogger(__name__)


def enabled(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


class MultiWorkspace:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client_id = settings.slack_client_id or ""
        self._client_secret = secret(settings.slack_client_secret) or ""
        public = settings.public_url.rstrip("/")
        self._redirect_uri = f"{public}{oauth.REDIRECT_PATH}"
        self._secure = public.startswith("https://")
        self._tokens: InstalledTokens | None = None
        self._flow: oauth.ConciergeOAuthFlow | None = None
        self._welcomer: Welcomer | None = None
        self._services: Services | None = None
        self._accepting: Callable[[], bool] = lambda: False

    def routes(self) -> list[BaseRoute]:
        return [
            Route(oauth.INSTALL_PATH, self._install, methods=["GET"]),
            Route(oauth.REDIRECT_PATH, self._redirect, methods=["GET"]),
        ]

    def tokens(self, services: Services, session: aiohttp.ClientSession) -> InstalledTokens:
        """The bot tokens of the installations in our database (refreshed when due)."""
        rotator = AsyncTokenRotator(
            client_id=self._client_id,
            client_secret=self._client_secret,
            client=web_client(self._settings.slack_api_url, session=session),
        )
        self._tokens = InstalledTokens(
            db=services.db,
            cipher=field_cipher(self._settings),
            rotator=rotator,
            fallback=secret(self._settings.slack_bot_token),
        )
        return self._tokens

    def start(
        self, services: Services, clients: SlackClients, accepting: Callable[[], bool]
    ) -> oauth.ConciergeOAuthFlow:
        tokens = self._tokens
        if tokens is None:
            raise RuntimeError("MultiWorkspace.tokens() comes first")
        self._services = services
        self._accepting = accepting
        self._welcomer = Welcomer(
            db=services.db, workspaces=services.workspaces, clients=clients, tokens=tokens
        )
        store = SlackInstallationStore(
            db=services.db,
            cipher=field_cipher(self._settings),
            workspaces=services.workspaces,
            on_change=tokens.forget,
        )
        contact = [CONTACT_SCOPE] if self._settings.slack_contact_details else []
        self._flow = oauth.build_flow(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scopes=[*BOT_SCOPES, *contact],
            redirect_uri=self._redirect_uri,
            client=tokens.client,
            installation_store=store,
            state_store=oauth.SignedStateStore(
                key=(secret(self._settings.secret_key) or "").encode(), db=services.db
            ),
            on_installed=self._installed,
        )
        return self._flow

    def home_opened(
        self, team_id: str, user: str, channel: str
    ) -> Coroutine[Any, Any, None] | None:
        """Work to run when someone opens the App Home: the installer's missed welcome."""
        if self._welcomer is None:
            return None
        return self._welcomer.home_opened(team_id, user, channel)

    def forget(self, team_id: str) -> None:
        if self._tokens is not None:
            self._tokens.forget(team_id)

    # ---- HTTP --------------------------------------------------------------------------

    async def _install(self, request: Request) -> Response:
        if self._flow is None or not self._accepting():
            return Response(status_code=503)
        answer = await self._flow.handle_installation(oauth.bolt_request(request))
        return oauth.to_response(answer, secure_cookie=self._secure)

    async def _redirect(self, request: Request) -> Response:
        if self._flow is None or not self._accepting():
            return Response(status_code=503)
        try:
            answer = await self._flow.handle_callback(oauth.bolt_request(request))
        except oauth.SlackUnreachable as error:
            log.warning("Slack install: oauth.v2.access unreachable (%s)", error)
            return oauth.unreachable_page()
        return oauth.to_response(answer, secure_cookie=self._secure)

    async def _installed(self, installation: Installation) -> None:
        """A workspace installed the app: welcome the installer (as tracked work)."""
        team, installer = installation.team_id, installation.user_id
        if self._services is not None and self._welcomer is not None and team and installer:
            welcome = self._welcomer.welcome(team, installer)
            self._services.work.spawn(welcome, name="slack:welcome")
