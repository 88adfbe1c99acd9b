"""Redaction at the formatter: secrets and token shapes never reach a log line."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFormatter


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
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
        "og_api_live",
        "whsec_abc123",
        "abc.def.ghi",
        "og_api_in_traceback",
    ):
        assert leaked not in text
    assert text.count("[redacted]") >= 8
