"""The erasure ledger: member ids erased for good, kept apart from the database and its backups."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
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

    def record_many(self, member_ids: Sequence[UUID], erased_at: datetime) -> None:
        """Append erasures with one write and one flush, before the database is touched."""
        if not member_ids:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        at = erased_at.isoformat()
        lines = "".join(json.dumps({"member_id": str(member_id), "erased_at": at}) + "\n" for member_id in member_ids)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            pending = memoryview(lines.encode())
            while pending:  # a large write may be taken in parts
                pending = pending[os.write(fd, pending) :]
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
