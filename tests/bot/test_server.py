"""`serve`: health and metrics over real HTTP; a bad secret key stops it with a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.loop_lag import LoopLag
from bot.server import create_app
from bot.settings import Settings
from integrations.sandbox import serve_in_background
from storage import generate_key

ROOT = Path(__file__).resolve().parents[2]


async def test_health_and_metrics(tmp_path: Path) -> None:
    settings = Settings(
        CONCIERGE_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        CONCIERGE_SECRET_KEY=generate_key(),
    )
    async with serve_in_background(create_app(settings)) as url, httpx.AsyncClient() as http:
        health = await http.get(f"{url}/healthz")
        await asyncio.sleep(0.3)  # a few lag samples
        metrics = await http.get(f"{url}/metrics")
    assert health.status_code == 200
    assert health.json()["ok"] is True and isinstance(health.json()["running_work"], int)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "concierge_turns_total",
        "concierge_tool_calls_total",
        "concierge_partner_request_seconds",
        "concierge_event_loop_lag_seconds_count",
        "concierge_event_loop_lag_p99_seconds",
        "concierge_llm_tokens_total",
    ):
        assert name in metrics.text


def run_serve(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    environment.update(env, PYTHONPATH=str(ROOT), CONCIERGE_PORT="0")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "CONCIERGE_SECRET_KEY is required"),
        ("c2hvcnQ=", "CONCIERGE_SECRET_KEY"),
        ("not base64 at all!!", "CONCIERGE_SECRET_KEY"),
    ],
    ids=["missing", "too-short", "not-base64"],
)
def test_serve_refuses_a_missing_or_malformed_secret_key(key: str | None, message: str) -> None:
    result = run_serve(**({"CONCIERGE_SECRET_KEY": key} if key else {}))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if key:
        assert key not in result.stderr


def test_a_deprecated_model_is_refused_with_a_clear_message() -> None:
    result = run_serve(CONCIERGE_LLM_MODEL="claude-sonnet-4-5", CONCIERGE_SECRET_KEY=generate_key())
    assert result.returncode != 0
    assert "claude-sonnet-4-5 is deprecated" in result.stderr and "Traceback" not in result.stderr


async def test_the_loop_lag_probe_sees_a_blocked_loop() -> None:
    probe = LoopLag(interval_s=0.01, window=50)
    task = asyncio.get_running_loop().create_task(probe.run())
    await asyncio.sleep(0.1)
    time.sleep(0.2)  # noqa: ASYNC251 - the point: a synchronous call holding the loop
    await asyncio.sleep(0.05)
    task.cancel()
    assert probe.p99 >= 0.15
