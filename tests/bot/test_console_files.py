"""The terminal saves a reply's file under its data dir's `files/` and says where in one
line; a hostile file name cannot leave that folder."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from bot.console.app import ConsoleReplier
from bot.console.render import safe_filename
from conversations.replies import FileAttachment, Reply

CSV = b"agency,booking,amount\nNorthwind,BK-1,120.00\n"


async def test_a_file_is_saved_and_named_in_one_line(tmp_path: Path) -> None:
    out = io.StringIO()
    replier = ConsoleReplier(out, interactive=False, data_dir=tmp_path / ".concierge")
    await replier.send(
        Reply(text="Here is the audit export.", file=FileAttachment("audit.csv", CSV))
    )
    saved = tmp_path / ".concierge" / "files" / "audit.csv"
    assert saved.read_bytes() == CSV
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert out.getvalue() == (
        f"Here is the audit export.\n📎 audit.csv ({len(CSV)} B) saved to {saved}\n\n"
    )


async def test_a_hostile_name_is_sanitised_and_a_taken_name_is_not_overwritten(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    replier = ConsoleReplier(out, interactive=False, data_dir=tmp_path)
    hostile = FileAttachment("../../etc/pass wd;rm -rf.csv", CSV)
    await replier.send(Reply(file=hostile))
    await replier.send(Reply(file=hostile))
    files = tmp_path / "files"
    assert sorted(p.name for p in files.iterdir()) == ["pass_wd_rm_-rf-1.csv", "pass_wd_rm_-rf.csv"]
    assert not (tmp_path.parent / "etc").exists()
    lines = out.getvalue().split("\n\n")
    assert lines[0] == f"📎 pass_wd_rm_-rf.csv (44 B) saved to {files / 'pass_wd_rm_-rf.csv'}"
    assert lines[1].endswith("pass_wd_rm_-rf-1.csv")


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("..", "file"),
        ("C:\\Users\\alice\\export.csv", "export.csv"),
        ("/abs/path/.hidden", "hidden"),
        ("rapport été.csv", "rapport_t_.csv"),
        ("", "file"),
    ],
)
def test_safe_filename(given: str, safe: str) -> None:
    assert safe_filename(given) == safe


async def test_a_file_that_cannot_be_saved_is_said_and_the_turn_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "files"
    blocker.write_text("a file where the folder should be")
    out = io.StringIO()
    replier = ConsoleReplier(out, interactive=False, data_dir=tmp_path)
    await replier.send(Reply(text="Export", file=FileAttachment("audit.csv", CSV)))
    assert out.getvalue().startswith("Export\n📎 audit.csv not saved: ")
