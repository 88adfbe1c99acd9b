"""The Slack surfaces around the conversation: `/concierge`, the App Home tab, and the agent
view's suggested prompts. Texts and views only; the listeners decide when to show them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.slack.render import escape
from conversations.replies import Progress, Reply, TextStream
from conversations.state import ConversationState
from conversations.tools.activities import list_orders
from conversations.tools.context import ToolContext, ToolDeps
from conversations.types import ConversationAddress, Sender
from integrations.errors import PartnerError

log = logging.getLogger(__name__)

COMMAND = "/concierge"
ORDERS_TEXT = "my orders"
ORDERS_TIMEOUT_S = 10.0
HOME_ACTION = "home-"
"""The action id prefix of the App Home's buttons (`home-<n>`): run in the presser's DM."""

CAN_DO = (
    "*Find things to do* — “jazz in Brooklyn this weekend”, “something for kids in Paris”",
    "*Ideas nearby* — “what's on near Williamsburg?”",
    "*Details and live prices* — press *Details* on a result, or say “details 2”",
    "*Book tickets* — press *Book*; nothing is booked until you confirm",
    "*Your orders* — “my orders”, or `/concierge orders`",
)

SUGGESTED_PROMPTS = (
    {"title": "Jazz this weekend", "message": "Find jazz concerts in Brooklyn this weekend"},
    {"title": "Ideas nearby", "message": "What's on near Williamsburg tonight?"},
    {"title": "Something for kids", "message": "Family-friendly things to do in Paris on Sunday"},
    {"title": "My orders", "message": ORDERS_TEXT},
)


def help_text() -> str:
    lines = [
        "*Concierge* finds things to do and books them for you. Talk to me in a DM, mention me "
        "in a channel (I answer in the thread), or use:",
        f"• `{COMMAND} <anything>` — ask me; I answer in our DM",
        f"• `{COMMAND} plan <outing>` — a group plan in this channel: a vote, then who's in, "
        "then each approves their own booking",
        f"• `{COMMAND} orders` — your bookings",
        f"• `{COMMAND} status` — what I'm working on for you (searches, bookings)",
        f"• `{COMMAND} settings` — how I am set up here (admins: connect Outgoing, spend limit)",
        f"• `{COMMAND} forget me` — delete what I stored about you here",
        f"• `{COMMAND} help` — this list",
    ]
    return "\n".join(lines)


def settings_text(*, outgoing: bool, payment_mode: str, offline: bool) -> str:
    payments = {
        "dry_run_success": "test mode: bookings are simulated and nothing is charged",
        "dry_run_failure": "test mode: bookings are simulated and always fail",
        "live_purchase": "live: confirmed bookings are charged",
    }.get(payment_mode, escape(payment_mode))
    return "\n".join(
        [
            "*Concierge settings for this workspace*",
            "• Activities (Outgoing): "
            + ("connected" if outgoing else "not connected — searching and booking are off"),
            f"• Payments: {payments}",
            "• Language model: "
            + ("offline planner (plain commands only)" if offline else "Claude"),
        ]
    )


class _Collecting:
    """A replier that keeps what a tool shows, for surfaces outside a conversation."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []

    async def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    async def progress(self, update: Progress) -> None:
        return None

    async def stream(self) -> TextStream | None:
        return None


async def orders_text(deps: ToolDeps, address: ConversationAddress, sender: Sender) -> str:
    """The person's recent orders as `list_orders` shows them (bounded in time, never raises)."""
    ctx = ToolContext(deps, address, sender, _Collecting(), ConversationState(), "")
    try:
        async with asyncio.timeout(ORDERS_TIMEOUT_S):
            outcome = await list_orders.run(ctx, list_orders.validate({}))
    except (PartnerError, TimeoutError) as error:
        log.info("orders for the home tab unavailable: %s", type(error).__name__)
        return "I couldn't load your orders just now. Try again in a minute."
    if outcome.is_error:
        return str(outcome.for_model.get("error", "Your orders are unavailable right now."))
    return "\n".join(r.text for r in outcome.replies if r.text) or "You have no bookings yet."


def home_view(orders: str, jobs: list[str] | None = None, *, welcome: Reply) -> dict[str, Any]:
    """The App Home tab: the welcome (what is connected, suggestions as buttons that run in
    the person's DM), how to start, what it is working on for them, and their recent orders."""
    suggestions = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:75], "emoji": True},
            "value": b.value,
            "action_id": f"{HOME_ACTION}{n}",
        }
        for n, b in enumerate(welcome.buttons[:25])
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Concierge", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(welcome.text)[:2900]}},
    ]
    if suggestions:
        blocks.append({"type": "actions", "elements": suggestions})
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "A suggestion runs in our DM."}],
            }
        )
    blocks += [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*How to start:* message me in the *Messages* tab, mention me in a "
                f"channel (I answer in the thread), or type `{COMMAND} <anything>`.",
            },
        },
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Working on it for you"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": escape("\n".join(f"• {line}" for line in jobs or [])[:2900])
                or "Nothing is running for you right now.",
            },
        },
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Your recent orders"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(orders)[:2900]}},
    ]
    return {"type": "home", "blocks": blocks}
