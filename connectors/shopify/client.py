"""GraphQL to one shop's Admin API, and only here: queries with cost pacing, THROTTLED retries, PII-free errors.

Transport errors and HTTP statuses are classified by ``core.sync.http.ConnectorHttpClient`` (one attempt
each); the retry loop is ``core.sync.retry``'s, around a whole GraphQL operation, because Shopify reports
THROTTLED inside an HTTP 200 as often as in a 429, and either way the wait follows from the query's cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.shopify.config import ShopifyConfig
from connectors.shopify.pacing import CostPacer, PacingStats
from core.errors import PermanentError, RetryableError
from core.sync.http import Action, ConnectorHttpClient, ErrorRule, response_json
from core.sync.retry import RetryEvent, RetryPolicy, retrying

SHOPIFY_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "server error", statuses=tuple(range(500, 600))),
    ErrorRule(Action.FAIL, "request rejected as malformed", statuses=(400,)),
    ErrorRule(Action.FAIL, "access token rejected", statuses=(401,)),
    ErrorRule(Action.FAIL, "shop frozen for non-payment", statuses=(402,)),
    ErrorRule(Action.FAIL, "access token lacks the scope", statuses=(403,)),
    ErrorRule(Action.FAIL, "no such shop or API version", statuses=(404,)),
    ErrorRule(Action.FAIL, "shop locked", statuses=(423,)),
)
"""Status → action for the Admin API, before the shared ``DEFAULT_RULES``. A 429 that carries THROTTLED is
classified by ``_throttled_429`` first, so its wait comes from the cost rather than a ``Retry-After``."""

_PERMANENT_CODES = frozenset({"MAX_COST_EXCEEDED", "ACCESS_DENIED", "BAD_REQUEST"})


class ThrottledError(RetryableError):
    """Shopify answered THROTTLED: the bucket cannot pay for the query yet; ``retry_after`` says when."""


class ShopifyClient:
    """Runs GraphQL operations on one shop; raises ``RetryableError`` or ``PermanentError``, PII-free.

    ``sleep`` and ``clock`` (monotonic seconds) are injectable so tests pace without waiting.
    """

    def __init__(
        self,
        config: ShopifyConfig,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = config.graphql_path
        self._policy = retry or RetryPolicy(max_attempts=config.max_attempts)
        self._sleep = sleep
        self.pacer = CostPacer(sleep=sleep, clock=clock)
        self._http = ConnectorHttpClient(
            str(config.shop_url),
            headers={"X-Shopify-Access-Token": token, "Accept": "application/json",
                     "User-Agent": "memberhub-shopify-connector"},
            timeout=config.timeout_s,
            transport=transport,
            policy=RetryPolicy(max_attempts=1),  # the operation is retried as a whole, below
            rules=SHOPIFY_ERROR_RULES,
            classify=self._throttled_429,
        )  # fmt: skip
        self._operation = ""

    @property
    def stats(self) -> PacingStats:
        """Queries, costs and every second spent waiting."""
        return self.pacer.stats

    def query(self, operation: str, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data`` of one operation, retried (bounded by the policy) on THROTTLED and transient failures.

        ``operation`` names the query in messages and keys its remembered cost; vary it when ``first`` varies.
        """
        controller = retrying(self._policy, sleep=self._sleep, on_retry=self._count_wait)
        result: dict[str, Any] = controller(self._query_once, operation, document, variables)
        return result

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _query_once(self, operation: str, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        self.pacer.before(operation)
        self._operation = operation
        response = self._http.request("POST", self._path, json={"query": document, "variables": dict(variables)})
        endpoint = f"POST {self._path} {operation}"
        try:
            body = response_json(response)
        except ValueError:
            raise PermanentError(f"{endpoint}: HTTP {response.status_code} body is not JSON") from None
        if not isinstance(body, dict):
            raise PermanentError(f"{endpoint}: answer is not a GraphQL response")
        self.pacer.observe(operation, body.get("extensions"))
        codes = _error_codes(body)
        if "THROTTLED" in codes:
            wait = self.pacer.throttled_wait(operation)
            raise ThrottledError(f"{endpoint}: THROTTLED (query cost)", retry_after=wait, status=None)
        data = body.get("data")
        if codes and (not isinstance(data, dict) or codes & _PERMANENT_CODES):
            # Messages can quote arguments; only the codes are safe to repeat.
            raise PermanentError(f"{endpoint}: GraphQL errors {sorted(codes)}")
        if not isinstance(data, dict):
            raise PermanentError(f"{endpoint}: answer has no data")
        return data

    def _throttled_429(self, response: httpx.Response) -> ErrorRule | None:
        """A 429 whose body says THROTTLED waits for the bucket; any other 429 honours ``Retry-After``."""
        if response.status_code != 429:
            return None
        try:
            body = response_json(response)
        except ValueError:
            return None
        if not isinstance(body, dict) or "THROTTLED" not in _error_codes(body):
            return None
        self.pacer.observe(self._operation, body.get("extensions"))
        return ErrorRule(Action.RETRY, "THROTTLED (query cost)", retry_after=self.pacer.throttled_wait(self._operation))

    def _count_wait(self, event: RetryEvent) -> None:
        if event.error_class == ThrottledError.__name__ or event.status == 429:
            self.stats.throttled_wait_s += event.delay
        else:
            self.stats.retry_wait_s += event.delay


def _error_codes(body: Mapping[str, Any]) -> frozenset[str]:
    """``errors[].extensions.code`` of a GraphQL answer (``GRAPHQL_ERROR`` for an error without one)."""
    errors = body.get("errors")
    if not errors:
        return frozenset()
    if not isinstance(errors, list):
        return frozenset({"GRAPHQL_ERROR"})  # REST-style {"errors": "…"} bodies
    codes = set()
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.add(code if isinstance(code, str) else "GRAPHQL_ERROR")
    return frozenset(codes)
