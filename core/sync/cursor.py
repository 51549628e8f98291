"""The stream cursor the engine understands: a timestamp high-water mark plus the API's page token.

Connectors build and read it; the engine applies the lookback window to it at the start of each run, so a
record committed late at the source with a timestamp just before the mark is still read. Records on the
boundary are read twice and absorbed by the idempotent upsert, never skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import ConfigError


@dataclass(frozen=True)
class StreamCursor:
    """``updated_since`` is inclusive; ``page`` is set only while a run is between pages."""

    updated_since: datetime | None = None
    page: str | None = None

    def to_json(self) -> str:
        """The stored form."""
        since = self.updated_since.isoformat() if self.updated_since else None
        return json.dumps({"updated_since": since, "page": self.page}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> StreamCursor:
        """Parse a stored cursor; ``None`` or empty means from the beginning."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            since = data.get("updated_since")
            return cls(datetime.fromisoformat(since) if since else None, data.get("page"))
        except (ValueError, AttributeError, TypeError) as error:
            raise ConfigError(f"stored cursor is not valid ({error.__class__.__name__})") from None

    def for_new_run(self, lookback: timedelta) -> StreamCursor:
        """Where a new run starts: an unfinished page is resumed as is, else the mark minus the lookback."""
        if self.page is not None or self.updated_since is None:
            return self
        return StreamCursor(self.updated_since - lookback, None)
