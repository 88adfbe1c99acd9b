"""`concierge secrets rotate`: re-seal everything under `CONCIERGE_SECRET_KEY`.

After a key change (`CONCIERGE_SECRET_KEY` the new key, `CONCIERGE_SECRET_KEY_PREVIOUS` the
old one, `serve` restarted with both), this re-seals what the old key sealed, a page at a
time, while `serve` keeps running. When it reports nothing unreadable, the previous key can
be dropped. Running it again re-seals nothing.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.services import field_cipher
from bot.settings import Settings
from storage import Database
from storage.migrate import upgrade
from storage.rotation import RotationReport, rotate_all
from storage.sealing import seal_with

__all__ = ["rotate_secrets"]


async def rotate_secrets(settings: Settings, out: TextIO | None = None) -> RotationReport:
    """Migrate (as `serve` would), re-seal, and print what was done, place by place (to
    ``out``, standard output by default)."""
    out = out or sys.stdout
    cipher = field_cipher(settings)
    await upgrade(settings.database_url, cipher=cipher)
    db = await Database.create(settings.database_url)
    seal_with(db, cipher)
    try:
        report = await rotate_all(db, cipher)
    finally:
        await db.dispose()
    for line in report.lines():
        print(line, file=out)
    if report.unreadable:
        print(
            f"{report.unreadable} sealed values open with neither CONCIERGE_SECRET_KEY nor "
            "CONCIERGE_SECRET_KEY_PREVIOUS; keep the previous key set until they are dealt with.",
            file=out,
        )
    else:
        print(
            f"{report.resealed} values re-sealed; everything is sealed under "
            "CONCIERGE_SECRET_KEY, and CONCIERGE_SECRET_KEY_PREVIOUS can be removed.",
            file=out,
        )
    return report
