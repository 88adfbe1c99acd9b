"""Redaction at the formatter: secrets and token shapes never reach a log line."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFormatter, configure_logging


def test_secrets_and_token_shapes_are_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", secrets=["s3cret-value-123"]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("configured s3cret-value-123")
        logger.warning("slack xoxb-1234-5678-abcdefghijkl and xapp-1-A0-123-abc")
        logger.warning("rotated xoxe.xoxb-1-T0A-abcdef and refresh xoxe-1-T0A-0123456789abcdef")
        logger.warning("link https://host/bind?token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA and back")
        logger.warning('curl -d \'{"bind_token": "cXV4cXV4cXV4cXV4cXV4cXV4"}\'')
        logger.warning("telegram 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")
        logger.warning("outgoing og_api_live_abcdef0123 and whsec_abc123")
        logger.warning("header Authorization: Bearer abc.def.ghi")
        logger.warning("failed", exc_info=ValueError("key og_api_in_traceback"))
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for leaked in (
        "s3cret-value-123",
        "xoxb-1234",
        "xapp-1",
        "xoxb-1-T0A",
        "xoxe-1-T0A",
        "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
        "cXV4cXV4cXV4cXV4cXV4cXV4",
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
        "og_api_live",
        "whsec_abc123",
        "abc.def.ghi",
        "og_api_in_traceback",
    ):
        assert leaked not in text
    assert text.count("[redacted]") >= 12
    assert "https://host/bind?token=[redacted] and back" in text


def test_slack_sdk_bodies_stay_out_of_the_log_even_at_debug() -> None:
    """slack_sdk logs `oauth.v2.access` answers (tokens) and message bodies at DEBUG."""
    root, sdk = logging.getLogger(), logging.getLogger("slack_sdk")
    saved = (root.handlers[:], root.level, sdk.level)
    try:
        configure_logging(logging.DEBUG)
        assert root.isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("slack_sdk.web.async_base_client").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sdk.setLevel(saved[2])
