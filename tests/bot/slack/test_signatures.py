"""Only Slack gets in: bad, stale or malformed signatures are 401, never 500, never work."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import EVENTS_PATH
from bot.slack.middleware import check_signature
from tests.bot.slack.harness import SECRET, dm, event_callback, running_slack, sign, sqlite_url
from tests.fakes.llm import ScriptedLLM

BODY = json.dumps(event_callback(dm("book everything"))).encode()
NOT_UTF8 = b'{"type": "event_callback", "x": "\xff"}'


def _flip(body: bytes) -> bytes:
    return body[:10] + bytes([body[10] ^ 0x01]) + body[11:]


async def test_bad_stale_and_malformed_signatures_are_refused(tmp_path: Path) -> None:
    good = sign(BODY)
    now = int(time.time())
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "flipped byte": (_flip(BODY), good),
        "wrong secret": (BODY, sign(BODY, secret="not-the-secret")),
        "301 s old": (BODY, sign(BODY, timestamp=now - 301)),
        "302 s ahead": (BODY, sign(BODY, timestamp=now + 302)),  # `now` lags up to 1 s
        "missing": (BODY, {}),
        "no signature": (BODY, {"X-Slack-Request-Timestamp": str(now)}),
        "timestamp abc": (BODY, {**good, "X-Slack-Request-Timestamp": "abc"}),
        "signature v0=éé": (BODY, {**good, "X-Slack-Signature": "v0=éé"}),
        "signature v1": (BODY, {**good, "X-Slack-Signature": good["X-Slack-Signature"][:-2]}),
        "uppercase hex": (BODY, {**good, "X-Slack-Signature": good["X-Slack-Signature"].upper()}),
        "signed, not UTF-8": (NOT_UTF8, sign(NOT_UTF8)),  # slack_sdk could not verify it
    }
    model = ScriptedLLM(["Signed and welcome."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        answers = {}
        for name, (body, headers) in cases.items():
            sent = {"Content-Type": "application/json", **headers}
            response = await rig.http.post(
                f"{rig.url}{EVENTS_PATH}",
                content=body,
                headers=[(k.encode(), v.encode()) for k, v in sent.items()],
            )
            answers[name] = response.status_code
        refused_calls = len(rig.slack.calls)
        accepted = await rig.post(BODY, "application/json")
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        await rig.settle()
    assert answers == dict.fromkeys(cases, 401)
    assert refused_calls == 0  # nothing refused reached bolt, the model or Slack
    assert accepted.status_code == 200  # the same body, correctly signed, gets in once
    assert len(model.requests) == 1 and "Signed and welcome." in rig.slack.posts[0].block_text


async def test_an_oversized_body_is_refused_before_anything_reads_it(tmp_path: Path) -> None:
    body = b'{"type":"event_callback","padding":"' + b"x" * (1 << 20) + b'"}'
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        response = await rig.post(body, "application/json")
    assert response.status_code == 413


@given(
    timestamp=st.one_of(st.text(max_size=20), st.integers(0, 10**13).map(str)),
    signature=st.one_of(
        st.text(max_size=80),
        st.text("0123456789abcdef", min_size=64, max_size=64).map("v0=".__add__),
    ),
    body=st.binary(max_size=200),
)
def test_any_header_shape_is_refused_without_raising(
    timestamp: str, signature: str, body: bytes
) -> None:
    headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}
    assert check_signature(headers, body, [SECRET]) is not None


def test_a_correct_signature_passes_with_any_of_the_active_secrets() -> None:
    headers = {k.lower(): v for k, v in sign(BODY).items()}
    assert check_signature(headers, BODY, ["old-secret", SECRET]) is None
    assert check_signature(headers, BODY, ["old-secret"]) == "wrong signature"
    assert check_signature(headers, BODY, []) == "wrong signature"


@pytest.mark.parametrize(
    ("skew", "expected"),
    [(-300, None), (300, None), (-301, "stale timestamp"), (301, "stale timestamp")],
)
def test_the_window_is_300_seconds_either_way(skew: int, expected: str | None) -> None:
    headers = {k.lower(): v for k, v in sign(BODY, timestamp=1_000_000 + skew).items()}
    assert check_signature(headers, BODY, [SECRET], now=1_000_000) == expected


def test_a_signed_body_that_is_not_utf8_cannot_be_verified_and_is_refused() -> None:
    headers = {k.lower(): v for k, v in sign(NOT_UTF8).items()}
    assert check_signature(headers, NOT_UTF8, [SECRET]) == "body is not UTF-8"
