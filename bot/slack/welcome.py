"""The welcome DM: what the concierge does, and how to connect the workspace to Outgoing.

Sent to whoever installed the app, right after the install (`conversations.open`, then
`chat.postMessage`). It carries a fresh bind token (7 days, one key) twice: in a link to
the bind page and in the equivalent `curl` call of the API door; when the workspace is
bound, that DM is told. If the DM cannot be sent, it is sent when the installer first opens
the App Home tab. Who welcomes is decided by one conditional update, so it is sent once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.addressing import PLATFORM
from bot.slack.clients import SLACK_ERRORS, SlackClients, describe
from bot.slack.render import escape
from bot.slack.surfaces import CAN_DO, COMMAND
from bot.slack.tokens import InstalledTokens
from conversations.types import ConversationAddress
from conversations.workspaces import BIND_TOKEN_TTL, Workspaces
from storage import Database, repositories

log = logging.getLogger(__name__)


def connect_instructions(*, link: str, api_url: str, token: str) -> str:
    """How to bind a key with this token, through either door (mrkdwn)."""
    days = BIND_TOKEN_TTL.days
    curl = (
        f'curl -X POST "{api_url}" -H "Authorization: Bearer og_api_…" '
        f"-H 'Content-Type: application/json' -d '{{\"bind_token\": \"{token}\"}}'"
    )
    return "\n".join(
        [
            f"• *On the web:* <{escape(link)}|open the connection page> and paste your Outgoing "
            "API key (`og_api_…`); Onegent, Call Agent and Events keys are optional.",
            "• *Or from a terminal*, with your key in place of `og_api_…`:",
            f"```{escape(curl)}```",
            f"The link and the token work for one key and expire in {days} days. A workspace "
            f"admin can get a new one with `{COMMAND} settings`.",
        ]
    )


def welcome_message(
    *, installer: str, link: str, api_url: str, token: str
) -> tuple[str, list[dict[str, Any]]]:
    """The DM's notification text and blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Welcome to Concierge"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Thanks for installing me, <@{installer}>! I find things to do and book "
                "them for the people here. Message me in this DM, mention me in a channel "
                "(I answer in the thread), or use `/concierge`.\n"
                + "\n".join(f"• {line}" for line in CAN_DO),
            },
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Connect this workspace to Outgoing* so searches and bookings use "
                "your own partner key (until then I use this deployment's default account, if "
                "it has one):\n" + connect_instructions(link=link, api_url=api_url, token=token),
            },
        },
    ]
    return "Welcome to Concierge: connect this workspace to Outgoing.", blocks


class Welcomer:
    def __init__(
        self,
        *,
        db: Database,
        workspaces: Workspaces,
        clients: SlackClients,
        tokens: InstalledTokens,
    ) -> None:
        self._db = db
        self._workspaces = workspaces
        self._clients = clients
        self._tokens = tokens

    async def home_opened(self, team_id: str, user: str, channel: str) -> None:
        """The installer opened the App Home: welcome them now if the DM failed before."""
        found = await self._tokens.installation(team_id)
        if found is not None and not found.welcomed and found.installer_user_id == user:
            await self.welcome(team_id, user, channel or None)

    async def welcome(self, team_id: str, user: str, channel: str | None = None) -> bool:
        """DM `user` the welcome, once per installation; False if it could not be sent
        (it is then sent at their next App Home open)."""
        found = await self._tokens.installation(team_id)
        if found is None:
            return False
        async with self._db.session() as session:
            if not await repositories.claim_welcome(session, workspace_id=found.workspace_id):
                return False
        self._tokens.forget(team_id)
        client = self._clients.client(found.bot_token)
        sent = False
        try:
            dm = channel or await _open_dm(client, user)
            token = await self._workspaces.issue_bind_token(
                platform=PLATFORM,
                workspace_external_id=team_id,
                issued_by=user,
                notify=ConversationAddress(PLATFORM, team_id, dm, ""),
            )
            text, blocks = welcome_message(
                installer=user,
                link=self._workspaces.bind_link(token),
                api_url=self._workspaces.bind_api_url,
                token=token,
            )
            await client.chat_postMessage(
                channel=dm, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
            sent = True
        except SLACK_ERRORS as error:
            log.warning("welcome DM in %s failed: %s", team_id, describe(error))
        finally:
            if not sent:  # whatever failed, the App Home tries again
                async with self._db.session() as session:
                    await repositories.release_welcome(session, workspace_id=found.workspace_id)
        if sent:
            log.info("welcomed the installer of %s", team_id)
        return sent


async def _open_dm(client: AsyncWebClient, user: str) -> str:
    answer = await client.conversations_open(users=user)
    channel = answer.get("channel")
    dm = str(channel.get("id") or "") if isinstance(channel, Mapping) else ""
    if not dm:
        raise SlackClientError("conversations.open named no channel")
    return dm
