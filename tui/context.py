"""What a session of ketnap runs with, settled before the App starts (by the CLI or a test)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db.access import Actor


@dataclass(frozen=True)
class AppContext:
    location: str  # the database path or URL, already opened and migrated
    actor: Actor
    today: datetime.date
    lang: str = "vi"
    mouse: bool = False
    # the session may read and write files on the server (not over an SSH forced command, where
    # files come and go through standard input and output only)
    server_files: bool = True
