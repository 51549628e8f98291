"""The erasure ledger: member ids erased for good, kept apart from the database and its backups."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from uuid import UUID


class ErasureLedger:
    """An append-only JSON-lines file of erased member ids (ids only: no personal data).

    A database backup taken before an erasure still holds the member's wrapped data key; re-applying this
    ledger after a restore erases them again before anyone can read them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, member_id: UUID, erased_at: datetime) -> None:
        """Append one erasure and flush it to disk before the database is touched."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps({"member_id": str(member_id), "erased_at": erased_at.isoformat()}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def member_ids(self) -> list[UUID]:
        """Every erased member id, oldest first, without duplicates."""
        if not self.path.exists():
            return []
        ids: dict[UUID, None] = {}
        for line in self.path.read_text().splitlines():
            if line.strip():
                ids[UUID(json.loads(line)["member_id"])] = None
        return list(ids)
