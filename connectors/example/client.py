"""HTTP to the Example API, and only here: list pages and the tags write, on the shared connector client.

Retry belongs to ``core.sync.http.ConnectorHttpClient``; this module contributes the API's rows of the
error-classification table and turns response bodies into ``Page`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.example.config import ExampleConfig
from core.errors import PermanentError
from core.sync.http import Action, ConnectorHttpClient, ErrorRule
from core.sync.retry import RetryPolicy

EXAMPLE_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "server error", statuses=tuple(range(500, 600))),
    ErrorRule(Action.FAIL, "request rejected as malformed", statuses=(400,)),
    ErrorRule(Action.FAIL, "access token rejected", statuses=(401,)),
    ErrorRule(Action.FAIL, "access token lacks the scope", statuses=(403,)),
    ErrorRule(Action.FAIL, "no such resource", statuses=(404,)),
    ErrorRule(Action.FAIL, "request failed validation", statuses=(422,)),
)
"""Status → action for the Example API, looked up before the shared ``DEFAULT_RULES`` (which add timeouts
and connection errors as retryable). Every 5xx is retried: the API's load balancer also answers 520–524."""

_TAGS_TEMPLATE = "/v1/customers/{id}/tags"


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint: raw records (validated later, one by one) and the next page's cursor."""

    items: Sequence[Any]
    next_cursor: str | None


class ExampleClient:
    """The Example API's operations; they raise ``RetryableError`` or ``PermanentError``, PII-free."""

    def __init__(
        self,
        config: ExampleConfig,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = ConnectorHttpClient(
            str(config.base_url),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "User-Agent": "memberhub-example-connector"},
            timeout=config.timeout_s,
            transport=transport,
            policy=retry or RetryPolicy(max_attempts=config.max_attempts),
            rules=EXAMPLE_ERROR_RULES,
        )  # fmt: skip

    def list_page(
        self,
        path: str,
        *,
        updated_since: datetime | None,
        cursor: str | None,
        limit: int,
        updated_before: datetime | None = None,
        newest_first: bool = False,
    ) -> Page:
        """GET one page of ``path`` ordered by ``(updated_at, id)`` in ``[updated_since, updated_before)``."""
        params: dict[str, str | int] = {"limit": limit}
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        if updated_before is not None:
            params["updated_before"] = updated_before.isoformat()
        if newest_first:
            params["order"] = "desc"
        if cursor is not None:
            params["cursor"] = cursor
        return _page_from(self._http.get_json(path, params=params), path)

    def put_tags(self, customer_id: str, tags: Sequence[str], *, idempotency_key: str) -> None:
        """Replace a customer's tags; the API answers a repeated key with the first answer, unchanged."""
        self._http.request(
            "PUT",
            _TAGS_TEMPLATE.format(id=quote(customer_id, safe="")),
            template=_TAGS_TEMPLATE,
            json={"tags": list(tags)},
            headers={"Idempotency-Key": idempotency_key},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _page_from(body: Any, path: str) -> Page:
    items = body.get("data") if isinstance(body, dict) else None
    next_cursor = body.get("next_cursor") if isinstance(body, dict) else None
    if not isinstance(items, list) or not isinstance(next_cursor, str | None):
        raise PermanentError(f"GET {path}: response is not a page (no data list or a bad next_cursor)")
    return Page(items, next_cursor)
