"""The deterministic story every Onegent sandbox job plays (one task per job).

``pending`` → (``start_s``) → ``running`` → (``run_s / 2``) decisions → (``run_s / 2``) a
terminal status, logging audit events (and ``decisionLog`` entries) as they happen:

1. ``job_started``. An ``activity`` job stops here: ``error`` with ``NOT_IMPLEMENTED``, as
   the spec says the real executor does today.
2. Provider choice over the scenario's chain (``PROVIDER_CHAINS``): providers blocked by
   ``consent.blockedProviders`` or outside ``allowedProviders`` are skipped, providers in
   ``config.failing_providers`` (or the first one, with the ``[fallback]`` marker) fail
   after one attempt; either way ``provider_fallback`` is decided and ``usedFallback``
   set. No provider left: ``error``.
3. Only on the way to ``paused_payment``/``completed``: a ``[switch]`` venue is switched
   (``venue_switched``) if ``allowVenueSwitch``, else ``no_availability``; a restaurant
   whose time is taken (``config.time_shift_minutes``) is moved (``time_adjusted``, "No
   slot at 19:00, switching to 19:30") if ``allowTimeAdjustment`` and the shift is within
   ``maxTimeAdjustmentMinutes``, else ``action_denied`` and ``no_availability``.
4. The terminal status: an outcome marker in the name, else ``config.outcome``;
   ``paused_payment`` gets the sandbox's own hand-off page, ``<root>/handoff/<jobId>``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from integrations.sandbox.onegent_config import (
    ALTERNATE_VENUES,
    FALLBACK_MARKER,
    OUTCOME_MARKERS,
    PROVIDER_CHAINS,
    SWITCH_MARKER,
    OnegentSandboxConfig,
    Outcome,
)
from integrations.sandbox.onegent_jobs import SandboxJob

if TYPE_CHECKING:
    from integrations.sandbox.onegent_state import OnegentSandboxState

__all__ = ["outcome_of", "run_job", "shifted"]

_SUCCESS = ("paused_payment", "completed")


def outcome_of(config: OnegentSandboxConfig, job: SandboxJob) -> Outcome:
    """The marker in the job's name, else the configured outcome."""
    for marker, outcome in OUTCOME_MARKERS.items():
        if job.has_marker(marker):
            return outcome
    return config.outcome


def shifted(clock: str, minutes: int) -> str:
    """``HH:MM`` plus ``minutes`` (wrapping at midnight)."""
    hours, mins = (int(part) for part in clock.split(":"))
    total = (hours * 60 + mins + minutes) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _pick_provider(config: OnegentSandboxConfig, job: SandboxJob) -> str | None:
    chain = PROVIDER_CHAINS[job.scenario]
    allowed = job.consent.get("allowedProviders")
    blocked = set(job.consent.get("blockedProviders") or ())
    usable = [p for p in chain if p not in blocked and (allowed is None or p in allowed)]
    if not usable:
        job.event("action_denied", "Every provider is excluded by consent")
        return None
    if usable[0] != chain[0]:
        job.used_fallback = True
        job.decide(
            "provider_fallback",
            f"{chain[0]} is excluded by consent, using {usable[0]}",
            providerId=usable[0],
            fromProvider=chain[0],
        )
    for index, provider in enumerate(usable):
        job.step_index = index
        job.provider = provider
        job.event("step_started", f"Opening {provider}", providerId=provider)
        job.event("step_attempt", f"Attempt {job.attempt_count + 1} on {provider}")
        job.attempt_count += 1
        failing = provider in config.failing_providers
        if index == 0 and job.has_marker(FALLBACK_MARKER):
            failing = True
        if not failing:
            return provider
        if index + 1 < len(usable):
            job.used_fallback = True
            job.decide(
                "provider_fallback",
                f"{provider} failed, falling back to {usable[index + 1]}",
                providerId=usable[index + 1],
                fromProvider=provider,
            )
    return None


def _switch_venue(job: SandboxJob) -> bool:
    """False when the venue has nothing and consent forbids a switch."""
    alternate = ALTERNATE_VENUES.get(job.scenario)
    if alternate is None or not job.has_marker(SWITCH_MARKER):
        return True
    if not job.consent.get("allowVenueSwitch", True):
        job.event("action_denied", f"{job.venue} has nothing; venue switch not allowed by consent")
        return False
    job.decide(
        "venue_switched",
        f"{job.venue} has no availability, switching to {alternate}",
        fromVenue=job.venue,
        toVenue=alternate,
    )
    job.venue = alternate
    return True


def _adjust_time(config: OnegentSandboxConfig, job: SandboxJob) -> bool:
    """False when the requested time is taken and consent forbids the shift."""
    shift = config.time_shift_minutes
    if job.scenario != "restaurant" or not shift:
        return True
    asked = str(job.params["time"])
    offered = shifted(asked, shift)
    allowed = bool(job.consent.get("allowTimeAdjustment", True))
    if not allowed or abs(shift) > int(job.consent.get("maxTimeAdjustmentMinutes", 90)):
        job.event(
            "action_denied",
            f"No slot at {asked}; shifting to {offered} is not allowed by consent",
            fromTime=asked,
            toTime=offered,
        )
        return False
    job.event("action_allowed", f"Time shift of {shift} min is within consent")
    job.decide(
        "time_adjusted",
        f"No slot at {asked}, switching to {offered}",
        f"Time shifted {asked} → {offered} (no slot at requested time)",
        fromTime=asked,
        toTime=offered,
    )
    job.booked_time = offered
    return True


def _what(job: SandboxJob) -> str:
    p = job.params
    if job.scenario == "restaurant":
        when = job.booked_time or p["time"]
        return f"{job.venue} for {p['covers']} on {p['date']} at {when}"
    if job.scenario == "hotel":
        return f"{job.venue}, {p['checkin']} to {p['checkout']}"
    return f"{p['origin']} → {job.venue} on {p['date']}"


def _conclude(job: SandboxJob, outcome: Outcome) -> None:
    provider = job.provider or "the provider"
    if outcome == "paused_payment":
        job.handoff_url = f"{job.root_url}/handoff/{job.job_id}"
        job.event("paused_payment", bare=True, handoffUrl=job.handoff_url)
        job.finish(outcome, f"Paused at payment gate for {job.venue}")
    elif outcome == "completed":
        job.event("job_completed", f"Booked on {provider}")
        job.finish(outcome, f"Booked {_what(job)}")
    elif outcome == "no_availability":
        job.event("job_failed", "Nothing matches the request")
        job.finish(outcome, f"No availability: {_what(job)}")
    elif outcome == "needs_login":
        job.event("job_failed", f"{provider} asked for a login")
        job.finish(outcome, f"{provider} required a login the executor couldn't bypass")
    elif outcome == "captcha":
        job.event("job_failed", f"CAPTCHA on {provider}")
        job.finish(outcome, f"Hard-blocked by a CAPTCHA on {provider}")
    else:
        job.event("job_failed", "Executor crashed (sandbox-forced)")
        summary = f"Unexpected failure while booking {job.venue}"
        job.finish("error", summary, error="EXECUTOR_FAILED")


async def run_job(state: OnegentSandboxState, job: SandboxJob) -> None:
    """The scripted job (cancelled at shutdown); reads the config live at each step."""
    await asyncio.sleep(state.config.start_s)
    job.set_status("running", f"Executing {job.scenario} booking for {job.venue}")
    job.event("job_started", f"Executing {job.scenario} booking")
    if job.scenario == "activity":
        job.event("job_failed", "runExecutionJob: NOT_IMPLEMENTED for activity")
        job.finish("error", "Activity bookings are not executed yet", error="NOT_IMPLEMENTED")
        return
    await asyncio.sleep(state.config.run_s / 2)
    config = state.config
    if _pick_provider(config, job) is None:
        job.event("job_failed", "No provider could run the booking")
        job.finish("error", f"No provider could book {job.venue}", error="NO_PROVIDER_AVAILABLE")
        return
    outcome = outcome_of(config, job)
    if outcome in _SUCCESS and not (_switch_venue(job) and _adjust_time(config, job)):
        outcome = "no_availability"
    await asyncio.sleep(state.config.run_s / 2)
    _conclude(job, outcome)
