"""The state of one Onegent sandbox app: its jobs, idempotency keys and what it received.

Tests reach it with ``onegent_state(app)`` and read ``jobs``, ``created`` (POSTs that
created a job), ``create_requests`` (every POST to ``/execution-jobs``), ``polls`` (GETs
per job id), ``requests`` / ``raw_requests`` (the create bodies as received), or change
the config at runtime with :meth:`OnegentSandboxState.configure`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Coroutine
from typing import Any

from integrations.sandbox.onegent_config import DEFAULT_ONEGENT_KEY, OnegentSandboxConfig
from integrations.sandbox.onegent_jobs import SandboxJob
from integrations.sandbox.onegent_script import run_job
from integrations.sandbox.onegent_validation import ValidatedJob
from integrations.sandbox.responses import ApiError

__all__ = [
    "DEFAULT_ONEGENT_KEY",
    "OnegentSandboxConfig",
    "OnegentSandboxState",
    "SandboxJob",
    "onegent_error",
]


def onegent_error(
    status: int, code: str, message: str, *, details: list[dict[str, Any]] | None = None
) -> ApiError:
    """``{"error": {"code", "message"}}`` (+ ``details`` for ``invalid_request``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return ApiError(status, {"error": error})


class OnegentSandboxState:
    """Everything one Onegent sandbox app remembers; lives on ``app.state.onegent``."""

    def __init__(self, config: OnegentSandboxConfig) -> None:
        self.config = config
        self.jobs: dict[str, SandboxJob] = {}
        self.created = 0
        """``POST /execution-jobs`` requests that created a job (not replays)."""
        self.create_requests = 0
        """Every ``POST /execution-jobs`` received, refused ones included."""
        self.polls: dict[str, int] = {}
        """``GET /execution-jobs/{id}`` per id (unknown ids and refused ones too)."""
        self.requests: list[Any] = []
        """Each create body as parsed JSON (None when it was not JSON), in arrival order."""
        self.raw_requests: list[bytes] = []
        """The same bodies, byte for byte (a retry must re-send the same bytes)."""
        self.handoff_views: dict[str, int] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        """(API key, idempotencyKey) → jobId."""
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ test helpers

    def configure(self, **changes: Any) -> None:
        """Change config fields at runtime (e.g. ``fail_create_times=1``)."""
        self.config = dataclasses.replace(self.config, **changes)

    @property
    def job_list(self) -> list[SandboxJob]:
        """Oldest first."""
        return list(self.jobs.values())

    async def wait_until_terminal(self, job_id: str) -> SandboxJob:
        """Wait for the job's terminal status (tests; wrap in ``asyncio.timeout``)."""
        job = self.jobs[job_id]
        await job.finished.wait()
        return job

    # ------------------------------------------------------------------ jobs

    def known(self, key: str) -> bool:
        return key in self.config.keys

    def create_job(self, key: str, request: ValidatedJob, root_url: str) -> tuple[SandboxJob, bool]:
        """The job for this request and whether it is a replay (same idempotency key).

        A forced ``job_create_failed`` creates nothing and registers no key, so a retry
        with the same key creates the job then.
        """
        idempotency_key = request.idempotency_key
        if idempotency_key is not None:
            existing = self.idempotency.get((key, idempotency_key))
            if existing is not None:
                return self.jobs[existing], True
        if self.config.fail_create_times > 0:
            self.configure(fail_create_times=self.config.fail_create_times - 1)
            raise onegent_error(
                500, "job_create_failed", "Failed to create the job; retry with the same key"
            )
        job = SandboxJob(
            job_id=str(uuid.uuid4()),
            key=key,
            request=request,
            root_url=(self.config.public_base_url or root_url).rstrip("/"),
        )
        self.jobs[job.job_id] = job
        self.created += 1
        if idempotency_key is not None:
            self.idempotency[(key, idempotency_key)] = job.job_id
        job.event("job_created", f"Job created for a {job.scenario} booking")
        job.task = self.spawn(run_job(self, job), f"onegent-{job.job_id}")
        return job, False

    # ------------------------------------------------------------------ background work

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def background_tasks(self) -> int:
        """Job scripts still running."""
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel every running job script (app shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
