"""The terminal front-end used by `concierge demo`.

Interactive on a TTY (a prompt and a progress line updated in place); plain when stdin is
piped: one message per line, no control characters, and work still running at end of input
(a search, say) is finished and printed before the program exits. A reply's file (an export)
is saved under the data dir's `files/` (readable by its owner only) and named in one line.

There are no buttons, so typed words press them, for the terminal's user and for whoever
speaks `as <Name>:` (`ShownButtons`): `y`/`n` answer that person's open confirmation,
`vote <n>` the newest open poll, `pick <n>` a choice like a tie's, and a button's label of
two words or more (`close vote`, `i'm in`, `each pays`) presses the newest such button.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import count
from pathlib import Path
from typing import TextIO

from bot.console.render import (
    choices,
    head,
    labelled,
    render_reply,
    render_saved_file,
    safe_filename,
    typed,
)
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
ALIASES = {"pay for all": "ill pay for everyone", "pay for everyone": "ill pay for everyone"}
"""Shorter ways to say a plan's longer labels."""
REMEMBERED = 40
"""How many messages with buttons the terminal keeps pressable."""


def name_of(user_id: str) -> str:
    """The terminal's members are `local-<name>`: "local-bea" → "Bea"."""
    return user_id.removeprefix("local-").capitalize()


class ShownButtons:
    """The buttons of what the terminal showed, newest last, under each reply's key (an edit
    replaces them: a closed poll has no votes left), so typed words can press them."""

    def __init__(self) -> None:
        self._replies: dict[str, Reply] = {}
        self._unkeyed = count()

    def remember(self, reply: Reply) -> None:
        if reply.key is None and not reply.buttons and reply.poll is None:
            return
        key = reply.key or f"#{next(self._unkeyed)}"
        self._replies.pop(key, None)
        self._replies[key] = reply
        while len(self._replies) > REMEMBERED:
            del self._replies[next(iter(self._replies))]

    def press(self, text: str, who: str) -> str | None:
        """The value `who` presses by typing `text`, or None when it presses nothing."""
        said = typed(text)
        visible = [r for r in reversed(self._replies.values()) if r.private_to in (None, who)]
        numbered = re.fullmatch(r"(?P<verb>vote|pick) (?P<n>\d{1,2})", said)
        if numbered is not None:
            n = int(numbered["n"])
            for reply in visible:
                if numbered["verb"] == "vote" and reply.poll and not reply.poll.closed:
                    options = reply.poll.options
                    return options[n - 1].value if 1 <= n <= len(options) else None
                if numbered["verb"] == "pick" and (picks := choices(reply)):
                    return picks[n - 1].value if 1 <= n <= len(picks) else None
            return None
        phrase, _, number = said.rpartition(" ")
        if not number.isdigit():
            phrase, number = said, "1"
        phrase = ALIASES.get(phrase, phrase)
        if len(phrase.split()) < 2:
            return None
        for reply in visible:
            matching = [b for b in labelled(reply) if _says(phrase, typed(head(b.label)))]
            if matching:
                n = int(number)
                return matching[n - 1].value if 1 <= n <= len(matching) else None
        return None


def _says(phrase: str, label: str) -> bool:
    """`each pays` says "each pays their own": the label's first words, whole."""
    return label == phrase or label.startswith(phrase + " ")


class ConsoleReplier:
    """Prints replies; remembers each person's open confirmation so `y`/`n` can answer it,
    and the buttons shown so typed words can press them; saves files under `data_dir`/files.
    `watch` lets the scripted friends see what is shown."""

    def __init__(self, out: TextIO, *, interactive: bool, data_dir: Path = DATA_DIR) -> None:
        self._out = out
        self._interactive = interactive
        self._files = data_dir / "files"
        self._status: str | None = None
        self._announced: set[str] = set()
        self._printed: set[str] = set()
        self._approvals: dict[str, ApprovalRequest] = {}
        self._watchers: list[Callable[[Reply], None]] = []
        self.shown = ShownButtons()

    def watch(self, watcher: Callable[[Reply], None]) -> None:
        """`watcher` sees every reply once it is printed."""
        self._watchers.append(watcher)

    def waits_for(self, user_id: str) -> bool:
        """Whether a confirmation only `user_id` can answer is open."""
        return user_id in self._approvals

    def note(self, text: str) -> None:
        """A line of the terminal's own (what a scripted friend does)."""
        self._clear_status()
        self._out.write(text + "\n\n")
        self._out.flush()

    def _clear_status(self) -> None:
        if self._interactive and self._status is not None:
            self._out.write("\r\x1b[2K")
            self._status = None

    async def send(self, reply: Reply) -> None:
        saved = await self._save(reply.file) if reply.file is not None else ""
        self._clear_status()
        if reply.approval is not None:
            self._track(reply.approval)
        seen = reply.key is not None and reply.key in self._printed
        if reply.key is not None:
            self._printed.add(reply.key)
        to = name_of(reply.private_to) if reply.private_to not in (None, SENDER.user_id) else None
        shown = [render_reply(reply, to=to, seen=seen) + _suggestions(reply), saved]
        self._out.write("\n".join(s for s in shown if s) + "\n\n")
        self._out.flush()
        self.shown.remember(reply)
        for watcher in self._watchers:
            watcher(reply)

    def _track(self, approval: ApprovalRequest) -> None:
        """The newest pending confirmation of each person, until it is settled."""
        open_one = self._approvals.get(approval.requester)
        if approval.status == "pending":
            self._approvals[approval.requester] = approval
        elif open_one is not None and open_one.approval_id == approval.approval_id:
            del self._approvals[approval.requester]

    async def _save(self, file: FileAttachment) -> str:
        """The file saved (off the event loop), and the line that says where."""
        try:
            path = await asyncio.to_thread(save_file, self._files, file)
        except OSError as error:
            return f"📎 {safe_filename(file.filename)} not saved: {error.strerror or error}"
        return render_saved_file(path.name, file.size, path)

    def answer(self, text: str, who: str = SENDER.user_id) -> str | None:
        """ "y", "yes please", "no" (the words a question takes) while `who` has a confirmation
        open → the value of its Confirm/Cancel button."""
        approval = self._approvals.get(who)
        if approval is None:
            return None
        said = yes_or_no(" ".join(text.lower().split()).strip(" .!?"))
        if said == "yes":
            return approval.confirm.value
        if said == "no":
            return approval.cancel.value
        return None

    def press(self, text: str, who: str = SENDER.user_id) -> str | None:
        """The button `who` presses by typing `text` (`ShownButtons`), or None."""
        return self.shown.press(text, who)

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
    end of input. A typed line that answers a confirmation or presses a button shown
    (`ConsoleReplier.answer`, `press`) is that button's press."""
    lingering: list[asyncio.Future[None]] = []
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
            press = replier.answer(text, who.user_id) or replier.press(text, who.user_id)
            message: Inbound = (
                ButtonPress(ADDRESS, who, press, new_event_id())
                if press
                else InboundMessage(ADDRESS, who, text, event_id=new_event_id(), private=True)
            )
            # One line at a time, like a person reading each answer before typing again.
            await work.spawn(manager.handle(message, replier), name="console-turn")
            if not interactive and settle is not None:
                lingering.append(await _settle_line(work, replier, settle))
        if interactive:
            out.write("you> ")
            out.flush()
    await asyncio.gather(*lingering)
    await work.drain()
    if settle is not None:
        await _settled(work, settle)


WAITING_CHECK_S = 0.25


async def _settled(work: WorkTracker, settle: Callable[[], Awaitable[None]]) -> None:
    """Until the tracked work (the friends' presses) and the jobs it set off are quiet."""
    while True:
        await work.drain()
        await settle()
        if not work.running:
            return


async def _settle_line(
    work: WorkTracker, replier: ConsoleReplier, settle: Callable[[], Awaitable[None]]
) -> asyncio.Future[None]:
    """Settle after a piped line, but read the next one as soon as the terminal's user has
    a confirmation to answer and nothing else is being done: what waits for their answer
    (a group plan's booking) is not on its way. The settling goes on meanwhile; the caller
    waits for it before the end."""
    settling = asyncio.ensure_future(_settled(work, settle))
    quiet = 0
    while not settling.done():
        await asyncio.wait({settling}, timeout=WAITING_CHECK_S)
        idle = replier.waits_for(SENDER.user_id) and not work.running
        quiet = quiet + 1 if idle else 0
        if quiet >= 2:  # still so a moment later: every card of the step was shown
            break
    return settling
