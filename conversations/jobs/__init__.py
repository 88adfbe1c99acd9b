"""Jobs: long-running partner work that a tool starts and a runner finishes, durably."""

from conversations.jobs.kinds import JobContext, JobKind, Say, Step, job_address, job_key, soon
from conversations.jobs.runner import JobRunner
from conversations.jobs.starting import start_job, wake_job

__all__ = [
    "JobContext",
    "JobKind",
    "JobRunner",
    "Say",
    "Step",
    "job_address",
    "job_key",
    "soon",
    "start_job",
    "wake_job",
]
