"""`concierge secrets rotate` as an operator runs it: counts per place, idempotent, refusing
to call the job done while anything opens with neither key; afterwards the new key alone
reads everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from storage import Database, FieldCipher, generate_key
from storage.migrate import upgrade
from storage.sealing import seal_with
from tests.storage.sealed_rows import Planted, plant, read_back
from tests.storage.test_sealing import PLANTED

OLD, NEW = generate_key(), generate_key()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`main` sets up logging for the process; give the test run its own back."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def _seed(url: str) -> Planted:
    old = FieldCipher(OLD)
    await upgrade(url, cipher=old)
    db = await Database.create(url)
    seal_with(db, old)
    try:
        return await plant(db, old, PLANTED)
    finally:
        await db.dispose()


async def _read_with_the_new_key_alone(url: str, planted: Planted) -> None:
    new = FieldCipher(NEW)
    db = await Database.create(url)
    seal_with(db, new)
    try:
        await read_back(db, new, planted)
    finally:
        await db.dispose()


def test_rotate_reseals_everything_then_the_previous_key_can_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'concierge.db'}"
    monkeypatch.setenv("CONCIERGE_DATABASE_URL", url)
    planted = asyncio.run(_seed(url))

    monkeypatch.setenv("CONCIERGE_SECRET_KEY", NEW)  # the old key forgotten too early
    monkeypatch.delenv("CONCIERGE_SECRET_KEY_PREVIOUS", raising=False)
    with pytest.raises(SystemExit) as refused:
        main(["secrets", "rotate"])
    assert refused.value.code == 1
    assert "keep the previous key set" in capsys.readouterr().out

    monkeypatch.setenv("CONCIERGE_SECRET_KEY_PREVIOUS", OLD)
    main(["secrets", "rotate"])
    said = capsys.readouterr().out.splitlines()
    assert "message.content: 2 re-sealed, 0 already current" in said
    assert "workspace_credential.key_ciphertext: 1 re-sealed, 0 already current" in said
    assert said[-1] == (
        "24 values re-sealed; everything is sealed under CONCIERGE_SECRET_KEY, and "
        "CONCIERGE_SECRET_KEY_PREVIOUS can be removed."
    )

    monkeypatch.delenv("CONCIERGE_SECRET_KEY_PREVIOUS")
    main(["secrets", "rotate"])  # again, without the previous key: nothing left to do
    again = capsys.readouterr().out.splitlines()
    assert "message.content: 0 re-sealed, 2 already current" in again
    assert again[-1].startswith("0 values re-sealed;")
    asyncio.run(_read_with_the_new_key_alone(url, planted))
