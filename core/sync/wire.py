"""What other systems send, decoded so that malformed input is always a ``ValueError`` or a refused match.

``json.loads`` raises ``RecursionError`` for arrays or objects nested past its limit, which every caller that
catches ``ValueError`` would miss (found by fuzzing); ``str.isdigit`` accepts digits ``int()`` refuses (``²``)
and ``int()`` refuses text of 4,300 digits and more. Webhook parsers, API clients and bulk results use these.
"""

from __future__ import annotations

import json
import re
from typing import Any

INTEGER_TEXT = re.compile(r"[0-9]{1,20}")
"""An id or a Unix time as text: ASCII digits, no longer than a 64-bit integer (use with ``fullmatch``)."""


def decode_json(data: bytes | str) -> Any:
    """``data`` decoded as JSON; ``ValueError`` if it is not JSON or nests too deeply to decode."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
