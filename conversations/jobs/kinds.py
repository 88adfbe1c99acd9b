"""What a kind of job is: its statuses, its forward-only transition table, and one step.

A partner capability defines its job kinds. The runner calls `step` whenever the job is due
(just started, re-attached after a crash, woken by a webhook or an answer, or at the time the
last step asked for); a step does partner work and returns a `Step` saying what the job
became, what to tell the chat and what to note for the model. The runner writes all of that
in one transaction, fenced by its lease, so a step that loses its lease changes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations import delivery
from conversations.replies import Reply
from conversations.types import ConversationAddress, Sender
from storage import repositories
from storage.models import Action

if TYPE_CHECKING:
    from conversations.tools.context import ToolDeps


class TransitionTableError(ValueError):
    """A kind's table would let a status come back: statuses must only move forward."""


def check_forward_only(name: str, transitions: Mapping[str, frozenset[str]]) -> None:
    """Refuse a transition table with a cycle (a status that can be reached again)."""
    state: dict[str, int] = {}

    def visit(status: str, path: tuple[str, ...]) -> None:
        if state.get(status) == 2:
            return
        if state.get(status) == 1:
            raise TransitionTableError(f"{name}: {' → '.join((*path, status))} goes back")
        state[status] = 1
        for following in transitions.get(status, frozenset()):
            visit(following, (*path, status))
        state[status] = 2

    for status in transitions:
        visit(status, ())


@dataclass(frozen=True)
class Say:
    """One announcement; `slug` makes it once-only per job (the outbox dedupe key)."""

    slug: str
    reply: Reply


@dataclass(frozen=True)
class Step:
    """What one step made of the job. `status` may stay the same (still waiting).

    `run_at` is when to work on it again (None: wait for a webhook or an answer, or done);
    `state` holds conversation-state keys to merge; `note` goes into the model's history.
    """

    status: str
    run_at: datetime | None = None
    result: Mapping[str, Any] | None = None
    error: str | None = None
    partner_ref: str | None = None
    say: tuple[Say, ...] = ()
    note: Mapping[str, Any] | None = None
    state: Mapping[str, Any] | None = None


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


T = TypeVar("T")


@dataclass
class JobContext:
    """What a step may use: the job's row, where it reports, and the shared services."""

    action: Action
    deps: ToolDeps
    owner: str
    on_said: Callable[[], None] = lambda: None
    """Wakes the outbox sender after something was said mid-step."""
    address: ConversationAddress = field(init=False)
    sender: Sender = field(init=False)

    def __post_init__(self) -> None:
        a = self.action
        self.address = job_address(a)
        self.sender = Sender(a.requested_by)

    async def checkpoint(self, **changes: Any) -> None:
        """Keep something in the job's payload *before* a partner hears of it (the exact
        body of a request, a partner's id, the last event id of a stream), fenced by the
        lease; raises `LeaseLost` if another process has taken the job over."""
        async with self.deps.db.session() as session:
            saved = await repositories.update_job_payload(
                session, action_id=self.action.id, owner=self.owner, changes=changes
            )
        if not saved:
            raise LeaseLost(self.action.id)
        self.action.payload = {**self.action.payload, **changes}

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]], **changes: Any) -> T:
        """Run `work` mid-step in one transaction with the payload `changes`, fenced by the
        lease (a long step — a call being listened to — posts and asks as things happen);
        raises `LeaseLost` and writes nothing if another process has taken the job over."""
        async with self.deps.db.session() as session:
            held = await repositories.update_job_payload(
                session, action_id=self.action.id, owner=self.owner, changes=changes
            )
            if not held:
                raise LeaseLost(self.action.id)
            done = await work(session)
        self.action.payload = {**self.action.payload, **changes}
        self.on_said()
        return done

    async def say(self, *says: Say, **changes: Any) -> None:
        """Announce now, mid-step (each `slug` once per job), with payload `changes`."""

        async def enqueue(session: AsyncSession) -> None:
            for said in says:
                await delivery.enqueue(
                    session,
                    self.address,
                    said.reply,
                    dedupe_key=f"{job_key(self.action.id)}:{said.slug}",
                )

        await self.write(enqueue, **changes)

    @property
    def key(self) -> str:
        """The reply key of the job's message: its status line, then its result."""
        return job_key(self.action.id)


class LeaseLost(Exception):
    """Another process holds this job now; this step must stop without a word."""


def job_key(action_id: str) -> str:
    return f"job:{action_id}"


def job_address(action: Action) -> ConversationAddress:
    """Where the job reports: the conversation it was started in."""
    return ConversationAddress(
        action.platform, action.workspace_id, action.chat_id, action.thread_id
    )


class JobKind(ABC):
    """A kind of long-running work. Subclasses set `name`, `transitions` and `step`."""

    name: ClassVar[str]
    label: ClassVar[str]
    """How `job_status` names it to people ("search", "booking")."""
    transitions: ClassVar[Mapping[str, frozenset[str]]]
    waiting_statuses: ClassVar[frozenset[str]]
    """Statuses in which a result is still on its way to the chat."""
    step_timeout_s: ClassVar[float] = 180.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "transitions" in cls.__dict__:
            check_forward_only(cls.__name__, cls.transitions)

    def is_open(self, status: str) -> bool:
        return bool(self.transitions.get(status))

    def allows(self, before: str, after: str) -> bool:
        return before == after or after in self.transitions.get(before, frozenset())

    def allowed_from(self, after: str) -> tuple[str, ...]:
        """Every status that may move to `after` (for updates coming from outside)."""
        return tuple(s for s, nexts in self.transitions.items() if after in nexts)

    def on_its_way(self, action: Action) -> bool:
        """Whether a result is still coming by itself (not waiting for a person)."""
        return action.status in self.waiting_statuses

    def status_line(self, action: Action) -> str | None:
        """The text of the status line shown while a step works (None: no status line)."""
        return None

    @abstractmethod
    def describe(self, action: Action) -> str:
        """One line for people: what this job is and how it stands."""

    @abstractmethod
    async def step(self, job: JobContext) -> Step:
        """Do the partner work due now and say what the job became."""

    @abstractmethod
    def crashed(self, job: JobContext, error: BaseException) -> Step:
        """The step raised (a bug, a timeout): what the job becomes, and what people hear."""
