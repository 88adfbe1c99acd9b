"""What the agency bridge says, in one place: who is answering, and what happened."""

from __future__ import annotations

from conversations.cards import clip
from conversations.replies import Button, Reply

NOTHING_SHARED = "nothing was shared with the agency"
SHARED_NOTE = (
    "Shared with the agency: these details and your name. Their travel agent then answers "
    "you in this thread; what you write here goes to them until you say “done with the agency”."
)
DONE_WORDS = frozenset(
    {
        "done",
        "done with the agency",
        "i'm done with the agency",
        "im done with the agency",
        "i am done with the agency",
        "back to the concierge",
        "stop the agency",
        "end the agency chat",
        "/done",
    }
)
MAX_TURN_TEXT = 3500


def is_done(text: str) -> bool:
    words = " ".join(text.lower().replace("/concierge", "").split()).strip(" .!")
    return words in DONE_WORDS


def header_key(job_id: str) -> str:
    return f"agency:{job_id}:header"


def turn_key(job_id: str, number: int) -> str:
    return f"agency:{job_id}:turn:{number}"


def header(job_id: str, agency: str, *, open_: bool) -> Reply:
    """The thread's header: who answers here now."""
    if open_:
        text = (
            f"🧳 {agency}'s travel agent is answering in this thread now. What you write here "
            "goes to them, not to me; say “done with the agency” (or press Done) to come back."
        )
        buttons: tuple[Button, ...] = (Button("Done with the agency", f"agency.done:{job_id}"),)
    else:
        text = (
            f"🧳 {agency}'s travel agent answered in this thread. You're back with the concierge."
        )
        buttons = ()
    return Reply(text=text, buttons=buttons, key=header_key(job_id))


def turn_text(agency: str, text: str, *, writing: bool) -> str:
    """One agency turn as posted: quoted as theirs, clipped, never read as our words."""
    body = clip(text.strip(), MAX_TURN_TEXT) or ("…" if writing else "(no text)")
    return f"🧳 {agency}:\n{body}" + (" ✍️" if writing else "")


def failed(reason: str) -> str:
    return f"I couldn't hand this trip to the agency: {reason}. Nothing else was shared."
