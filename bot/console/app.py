"""The terminal front-end used by `concierge demo`.

Interactive on a TTY (a prompt and a progress line updated in place); plain when stdin is
piped: one message per line, no control characters, and work still running at end of input
(a search, say) is finished and printed before the program exits. A reply's file (an export)
is saved under the data dir's `files/` (readable by its owner only) and named in one line.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.console.render import render_reply, render_saved_file, safe_filename
from bot.settings import DATA_DIR
from conversations import (
    ConversationAddress,
    ConversationManager,
    InboundMessage,
    Sender,
    WorkTracker,
)
from conversations.manager import new_event_id
from conversations.questions import yes_or_no
from conversations.replies import (
    ApprovalRequest,
    FileAttachment,
    Progress,
    Replier,
    Reply,
    TextStream,
)
from conversations.types import ButtonPress, Inbound
from conversations.welcome import TRY, TYPED

ADDRESS = ConversationAddress(platform="console", workspace_id="local", chat_id="terminal")
SENDER = Sender(user_id="local-user", display_name="You")


class ConsoleReplier:
    """Prints replies; remembers the open confirmation so `y`/`n` can answer it; saves files
    under `data_dir`/files."""

    def __init__(self, out: TextIO, *, interactive: bool, data_dir: Path = DATA_DIR) -> None:
        self._out = out
        self._interactive = interactive
        self._files = data_dir / "files"
        self._status: str | None = None
        self._announced: set[str] = set()
        self.open_approval: ApprovalRequest | None = None

    def _clear_status(self) -> None:
        if self._interactive and self._status is not None:
            self._out.write("\r\x1b[2K")
            self._status = None

    async def send(self, reply: Reply) -> None:
        saved = await self._save(reply.file) if reply.file is not None else ""
        self._clear_status()
        if reply.approval is not None:
            pending = reply.approval.status == "pending"
            if pending or (
                self.open_approval and self.open_approval.approval_id == reply.approval.approval_id
            ):
                self.open_approval = reply.approval if pending else None
        shown = [render_reply(reply) + _suggestions(reply), saved]
        self._out.write("\n".join(s for s in shown if s) + "\n\n")
        self._out.flush()

    async def _save(self, file: FileAttachment) -> str:
        """The file saved (off the event loop), and the line that says where."""
        try:
            path = await asyncio.to_thread(save_file, self._files, file)
        except OSError as error:
            return f"📎 {safe_filename(file.filename)} not saved: {error.strerror or error}"
        return render_saved_file(path.name, file.size, path)

    def answer(self, text: str) -> str | None:
        """ "y", "yes please", "no" (the words a question takes) while a confirmation is open →
        the value of its Confirm/Cancel button."""
        if self.open_approval is None:
            return None
        said = yes_or_no(" ".join(text.lower().split()).strip(" .!?"))
        if said == "yes":
            return self.open_approval.confirm.value
        if said == "no":
            return self.open_approval.cancel.value
        return None

    async def stream(self) -> TextStream | None:
        return None  # a terminal prints the finished text at once

    async def progress(self, update: Progress) -> None:
        if not self._interactive:
            if update.key not in self._announced and not update.done:
                self._announced.add(update.key)
                self._out.write(f"… {update.text}\n")
                self._out.flush()
            return
        self._clear_status()
        if not update.done:
            self._status = f"… {update.text} ({update.elapsed_s:.0f}s)"
            self._out.write(self._status)
        self._out.flush()


def save_file(folder: Path, file: FileAttachment) -> Path:
    """`file` as a new file in `folder` under its safe name (`-1`, `-2`… before the suffix
    when taken), for its owner's eyes only: an export may hold personal data."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = Path(safe_filename(file.filename))
    for attempt in range(1000):
        candidate = name.name if not attempt else f"{name.stem}-{attempt}{name.suffix}"
        path = folder / candidate
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(handle, "wb") as written:
            written.write(file.content)
        return path
    raise FileExistsError(f"no free name for {name} in {folder}")


def _suggestions(reply: Reply) -> str:
    """A terminal has no buttons: the welcome's suggestions are shown as what to type."""
    said = [
        TYPED[name].text
        for verb, _, name in (b.value.partition(":") for b in reply.buttons)
        if verb == TRY and name in TYPED
    ]
    return "\n" + "\n".join(f"  › {text}" for text in said) if said else ""


class ConsoleOutlet:
    """Results that arrive later (booking webhooks) are printed in the same terminal."""

    def __init__(self, replier: ConsoleReplier) -> None:
        self._replier = replier

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self._replier if address == ADDRESS else None


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


_AS = re.compile(r"^as\s+(?P<name>[A-Za-z][\w-]{0,30})\s*:\s*(?P<text>.+)$", re.I)


def speaker(text: str) -> tuple[Sender, str]:
    """`as Bob: who should I meet?` speaks as another member of the terminal's chat (a
    scripted group); anything else is the terminal's own user."""
    match = _AS.match(text)
    if match is None:
        return SENDER, text
    name = match["name"].capitalize()
    return Sender(user_id=f"local-{name.lower()}", display_name=name), match["text"].strip()


async def run_console(
    manager: ConversationManager,
    work: WorkTracker,
    lines: AsyncIterator[str],
    replier: ConsoleReplier,
    out: TextIO,
    *,
    interactive: bool,
    banner: str,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Feed each line to the manager as its own tracked work; `settle` waits for results
    still on their way (a search's cards, a booking's confirmation): after each line when
    the input is piped, as a person would read each answer before typing again, and at the
    end of input."""
    out.write(banner + "\n\n")
    opening = InboundMessage(ADDRESS, SENDER, "help", event_id=new_event_id(), private=True)
    await work.spawn(manager.handle(opening, replier), name="console-welcome")
    if interactive:
        out.write("you> ")
    out.flush()
    async for raw in lines:
        text = raw.strip()
        if text.lower() in {"quit", "exit"}:
            break
        if text:
            who, text = speaker(text)
            press = replier.answer(text)
            message: Inbound = (
                ButtonPress(ADDRESS, who, press, new_event_id())
                if press
                else InboundMessage(ADDRESS, who, text, event_id=new_event_id(), private=True)
            )
            # One line at a time, like a person reading each answer before typing again.
            await work.spawn(manager.handle(message, replier), name="console-turn")
            if not interactive and settle is not None:
                await settle()
        if interactive:
            out.write("you> ")
            out.flush()
    await work.drain()
    if settle is not None:
        await settle()
