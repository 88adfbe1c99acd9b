"""A reply's file across the outbox's JSON (base64), its size limit, and a repr that never
shows its content."""

from __future__ import annotations

import base64
import json

import pytest

from conversations.replies import MAX_FILE_BYTES, Button, FileAttachment, Reply
from conversations.serialize import reply_from_json, reply_to_json

CSV = b"agency,booking,amount\nNorthwind,BK-1,120.00\n\x00\xff"


def test_a_file_reply_round_trips_through_json() -> None:
    reply = Reply(
        text="Your export",
        buttons=(Button("Again", "export:again"),),
        private_to="U0ALICE",
        file=FileAttachment("audit.csv", CSV, mime="text/csv", title="Audit"),
    )
    raw = json.loads(json.dumps(reply_to_json(reply)))
    assert reply_from_json(raw) == reply
    assert "Northwind" not in json.dumps(raw)  # base64, not the bytes as text


def test_a_reply_without_a_file_round_trips_and_old_payloads_still_read() -> None:
    reply = Reply(text="Hello")
    assert reply_from_json(reply_to_json(reply)) == reply
    old = {k: v for k, v in reply_to_json(reply).items() if k != "file"}
    assert reply_from_json(old) == reply


def test_a_file_may_be_five_megabytes_and_no_more() -> None:
    assert FileAttachment("big.csv", b"x" * MAX_FILE_BYTES).size == MAX_FILE_BYTES
    with pytest.raises(ValueError, match="at most"):
        FileAttachment("huge.csv", b"x" * (MAX_FILE_BYTES + 1))


def test_an_outbox_payload_altered_past_the_limit_is_refused() -> None:
    raw = reply_to_json(Reply(file=FileAttachment("a.csv", b"x")))
    raw["file"]["content_b64"] = base64.b64encode(b"x" * (MAX_FILE_BYTES + 1)).decode()
    with pytest.raises(ValueError, match="at most"):
        reply_from_json(raw)


def test_the_repr_names_the_file_and_its_size_only() -> None:
    file = FileAttachment("audit.csv", CSV, mime="text/csv", title="Audit")
    assert repr(file) == f"FileAttachment(filename='audit.csv', size={len(CSV)})"
    assert "Northwind" not in repr(Reply(text="x", file=file))
