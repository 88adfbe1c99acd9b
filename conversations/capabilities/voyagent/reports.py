"""The agency's reports, for the people allowed to see them, and only to them.

The itinerary of a trip goes to its requester or a workspace admin; the tenant's audit
export only to a workspace admin, as a CSV file in their own chat with the bot, never in a
channel. Neither is given to the model: what the agency wrote is shown, not read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from conversations.capabilities.voyagent.job import AGENCY
from conversations.cards import clip
from conversations.replies import FileAttachment, Reply
from conversations.tools.base import ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext
from integrations.voyagent import AgencyAdminRequired, AuditExportTooLarge, Itinerary
from storage import repositories

SENT = {"status": "sent privately", "note": "Shown only to the person who asked; do not repeat it."}


def itinerary_text(report: Itinerary) -> str:
    lines = [f"🧳 Itinerary: {clip(report.title, 120) or 'your trip'}"]
    if report.travellers:
        lines.append(f"Travellers: {report.travellers}")
    for day in report.days[:60]:
        lines.append(f"\n{day.date} · {clip(day.city, 60) or ''}".rstrip(" ·"))
        for item in day.items[:20]:
            when = f"{item.time} " if item.time else ""
            detail = f" — {clip(item.detail, 160)}" if item.detail else ""
            lines.append(f"  • {when}{clip(item.title, 120)}{detail}")
    if report.total is not None:
        lines.append(f"\nTotal: {report.total.amount} {report.total.currency}")
    if len(lines) == 1:
        lines.append("The agency hasn't built the itinerary yet.")
    return "\n".join(lines)


async def _is_admin(ctx: ToolContext) -> bool:
    return await ctx.deps.admins.is_admin(ctx.address, ctx.sender.user_id)


@tool(partner="voyagent")
async def agency_report(
    ctx: ToolContext, report: Literal["itinerary", "audit_export"]
) -> ToolOutcome:
    """Get a report from the travel agency: `itinerary` — the itinerary the agency built for
    the trip handed to them from this conversation (for its requester or a workspace admin);
    `audit_export` — the agency account's audit log as a CSV file (workspace admins only).
    Reports are sent privately to the person who asked; you do not see their contents."""
    access = ctx.deps.voyagent
    agency = await access.agency(ctx.address) if access is not None else None
    if agency is None:
        return tool_error("The travel agency is not set up here.")
    if report == "audit_export":
        if not await _is_admin(ctx):
            return tool_error(
                "Only a workspace admin can get the agency's audit export.",
                hint="Tell the user; do not retry.",
            )
        try:
            body = await agency.client.audit_csv()
        except AgencyAdminRequired:
            return tool_error(
                "The agency's login used here is not an agency admin, so it can't read the "
                "audit log.",
                hint="Tell the user an agency admin login is needed.",
            )
        except AuditExportTooLarge:
            return tool_error("The audit log is too large to export in one file.")
        rows = max(0, body.count(b"\n") - 1)
        name = f"agency-audit-{datetime.now(UTC):%Y-%m-%d}.csv"
        file = FileAttachment(name, body, "text/csv", title="Agency audit log")
        reply = Reply(
            text=f"The agency's audit log ({rows} rows).",
            file=file,
            private_to=ctx.sender.user_id,
            private_chat=True,
        )
        return ToolOutcome(for_model=SENT, replies=(reply,))
    async with ctx.deps.db.session(read_only=True) as session:
        jobs = await repositories.conversation_jobs(
            session, conversation_id=ctx.conversation_id, kinds=(AGENCY.name,)
        )
    job = next((j for j in jobs if j.payload.get("session_id")), None)
    if job is None:
        return tool_error(
            "No trip from this conversation has reached the agency yet.",
            hint="Offer to hand the trip to the agency with ask_agency.",
        )
    if job.requested_by != ctx.sender.user_id and not await _is_admin(ctx):
        return tool_error("Only the person who asked for this trip (or an admin) can see it.")
    itinerary = await agency.client.itinerary(str(job.payload["session_id"]))
    reply = ctx.privately(itinerary_text(itinerary))
    return ToolOutcome(for_model=SENT, replies=(reply,))
