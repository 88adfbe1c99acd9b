"""`/concierge settings`: how the bot is set up here, and what a workspace admin may change.

Everyone sees the basics. A workspace admin or owner (`users.info`: `is_admin`, `is_owner`)
also sees whether the workspace is bound to its own Outgoing key and of which kind (never
the key), its spend limit per booking, and a fresh bind token (link and `curl`), and may set
the limit: `/concierge settings limit 300` (in the booking's currency; `default` resets it).
Answers are ephemeral: only the person who asked sees them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.slack.addressing import PLATFORM
from bot.slack.people import ProfileUnavailable, SlackPeople
from bot.slack.surfaces import COMMAND, settings_text
from bot.slack.welcome import connect_instructions
from conversations.types import ConversationAddress
from conversations.workspaces import WorkspaceInfo, Workspaces

MAX_LIMIT_CENTS = 100_000_000  # one million in the booking's currency
_AMOUNT = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")
ONLY_ADMINS = "Only a workspace admin can {what}. Ask one of your workspace's admins or owners."
PARTNER_NAMES = {"onegent": "Onegent", "call_agent": "AI Call Agent", "events": "Events"}


@dataclass(frozen=True)
class Basics:
    outgoing: bool
    payment_mode: str
    offline: bool
    default_key: bool
    default_cap_cents: int


def parse_amount(text: str) -> int | None:
    """`300`, `300.5`, `300,50` → cents; None when it is not an amount."""
    match = _AMOUNT.match(text.strip().lstrip("$€£").strip())
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def amount(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole:,}" if rest == 0 else f"{whole:,}.{rest:02d}"


def connection_line(info: WorkspaceInfo, *, default_key: bool) -> str:
    if info.outgoing_kind == "negotiated":
        line = (
            "connected with this workspace's own partner key: everyone books into their own "
            "Outgoing account"
        )
    elif info.outgoing_kind is not None:
        line = (
            "connected with this workspace's own personal (self-serve) key: orders belong to "
            "the key's owner"
        )
    elif default_key:
        line = "not connected to a key of its own; the deployment's default account is used"
    else:
        line = "not connected — searching and booking are off until an admin connects it"
    others = [PARTNER_NAMES.get(p, p) for p in info.partners if p != "outgoing"]
    if others:
        line += f". Also connected: {', '.join(others)}"
    return line


OpenDM = Callable[[str, str], Awaitable[str | None]]


class WorkspaceSettings:
    def __init__(self, *, workspaces: Workspaces, people: SlackPeople, open_dm: OpenDM) -> None:
        self._workspaces = workspaces
        self._people = people
        self._open_dm = open_dm

    async def answer(self, *, team: str, user: str, rest: str, basics: Basics) -> str:
        """The ephemeral answer to `/concierge settings <rest>`."""
        words = rest.split()
        if words and words[0].lower() == "limit":
            return await self._limit(team, user, " ".join(words[1:]), basics)
        if words:
            return (
                f"I know `{COMMAND} settings` and `{COMMAND} settings limit <amount>` "
                f"(or `{COMMAND} settings limit default`)."
            )
        shown = settings_text(
            outgoing=basics.outgoing, payment_mode=basics.payment_mode, offline=basics.offline
        )
        admin = await self._is_admin(team, user)
        if isinstance(admin, str):
            return f"{shown}\n\n{admin}"
        if not admin:
            return f"{shown}\n\n" + ONLY_ADMINS.format(
                what="connect this workspace to Outgoing or change its spend limit"
            )
        return f"{shown}\n\n{await self._admin_view(team, user, basics)}"

    async def _admin_view(self, team: str, user: str, basics: Basics) -> str:
        info = await self._workspaces.describe(platform=PLATFORM, workspace_external_id=team)
        cap = info.spend_cap_cents
        limit = (
            f"{amount(cap)} per booking (set by an admin)"
            if cap is not None
            else f"{amount(basics.default_cap_cents)} per booking (the default)"
        )
        dm = await self._open_dm(team, user)
        token = await self._workspaces.issue_bind_token(
            platform=PLATFORM,
            workspace_external_id=team,
            issued_by=user,
            notify=ConversationAddress(PLATFORM, team, dm, "") if dm else None,
        )
        connect = connect_instructions(
            link=self._workspaces.bind_link(token),
            api_url=self._workspaces.bind_api_url,
            token=token,
        )
        verb = "Connect it to another key" if info.outgoing_kind else "Connect it to Outgoing"
        return "\n".join(
            [
                "*For workspace admins*",
                "• This workspace: " + connection_line(info, default_key=basics.default_key),
                f"• Spend limit: {limit}, in the booking's currency. Change it with "
                f"`{COMMAND} settings limit 300`.",
                f"*{verb}* (a new key replaces the current one):",
                connect,
            ]
        )

    async def _limit(self, team: str, user: str, value: str, basics: Basics) -> str:
        admin = await self._is_admin(team, user)
        if isinstance(admin, str):
            return admin
        if not admin:
            return ONLY_ADMINS.format(what="change the spend limit")
        if value.lower() in {"default", "reset"}:
            await self._workspaces.set_spend_cap(
                platform=PLATFORM, workspace_external_id=team, cents=None
            )
            return (
                f"Done: one booking may again cost up to {amount(basics.default_cap_cents)} "
                "(the default), in the booking's currency."
            )
        cents = parse_amount(value)
        if cents is None or cents > MAX_LIMIT_CENTS:
            return (
                f"Give the limit as an amount, e.g. `{COMMAND} settings limit 300` (up to "
                f"{amount(MAX_LIMIT_CENTS)}), or `{COMMAND} settings limit default`."
            )
        await self._workspaces.set_spend_cap(
            platform=PLATFORM, workspace_external_id=team, cents=cents
        )
        return (
            f"Done: one booking may now cost up to {amount(cents)}, in the booking's currency. "
            "Bookings above it are refused before anyone is asked to confirm."
        )

    async def _is_admin(self, team: str, user: str) -> bool | str:
        """True/False, or what to tell the person when Slack could not say."""
        try:
            found = await self._people.fetch(team, user)
        except ProfileUnavailable as error:
            if str(error) == "missing_scope":
                return (
                    "I can't check who the workspace admins are: this installation lacks the "
                    "`users:read` permission. Reinstall the app to grant it."
                )
            return "I couldn't check whether you are a workspace admin just now. Try again."
        return found.is_admin
