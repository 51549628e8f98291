"""The HTTP client every connector uses: one classification table, retry with backoff, PII-free errors.

A response or transport exception is looked up in a table of :class:`ErrorRule` rows — the connector's
own rules first, then :data:`DEFAULT_RULES` — and the rule's action decides: return it, retry it
(:class:`RetryableError`, honouring ``Retry-After``) or give up (:class:`PermanentError`). An API that
reports errors inside a 200 (Shopify's ``THROTTLED``) plugs in a ``classify(response)`` hook.

Error messages name the method, the path template (or the path without its query), the status and the
kind of error — never a query string, a header or a body, where personal data lives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import httpx

from core.errors import PermanentError, RetryableError
from core.sync.retry import RetryEvent, RetryPolicy, parse_retry_after, retrying
from core.sync.wire import decode_json

__all__ = ["DEFAULT_RULES", "Action", "ClientStats", "ConnectorHttpClient", "ErrorRule", "response_json"]


class Action(StrEnum):
    """What to do with a response or an exception."""

    OK = "ok"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class ErrorRule:
    """One row of the classification table: the statuses or exception type it matches and the action.

    ``reason`` is a short, PII-free label for messages ("rate limited"). ``retry_after`` is a wait the
    connector computed itself (a cost-based throttle); without it the ``Retry-After`` header is honoured.
    """

    action: Action
    reason: str
    statuses: tuple[int, ...] = ()
    exception: type[Exception] | None = None
    retry_after: float | None = None


DEFAULT_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "request timeout", statuses=(408,)),
    ErrorRule(Action.RETRY, "server error", statuses=(500, 502, 503, 504)),
    ErrorRule(Action.RETRY, "timeout", exception=httpx.TimeoutException),
    ErrorRule(Action.RETRY, "network error", exception=httpx.NetworkError),
    ErrorRule(Action.RETRY, "protocol error", exception=httpx.RemoteProtocolError),
    ErrorRule(Action.RETRY, "proxy error", exception=httpx.ProxyError),
)
"""Used after a connector's own rules. An unmatched status is ok below 400 and fails from 400 on; an
unmatched transport error (unsupported protocol, a malformed request) fails."""

_SUCCESS = ErrorRule(Action.OK, "ok")
_UNEXPECTED_STATUS = ErrorRule(Action.FAIL, "client error")
_BROKEN_TRANSPORT = ErrorRule(Action.FAIL, "transport error")


@dataclass
class ClientStats:
    """Counters of one client: calls made, attempts sent on the wire, retries and seconds spent waiting."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    waited: float = 0.0


class ConnectorHttpClient:
    """An ``httpx.Client`` for one external system that classifies every answer and retries transients.

    Pass ``transport`` to fake the wire (``httpx.MockTransport`` in unit tests, the loopback emulator in
    integration tests) and ``sleep`` to skip the waits.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so one shared default is safe
        rules: Sequence[ErrorRule] = (),
        sleep: Callable[[float], None] = time.sleep,
        classify: Callable[[httpx.Response], ErrorRule | None] | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)
        self.policy = policy
        self.rules: tuple[ErrorRule, ...] = (*rules, *DEFAULT_RULES)
        self.classify = classify
        self.stats = ClientStats()
        self._sleep = sleep

    def request(self, method: str, path: str, *, template: str | None = None, **kwargs: Any) -> httpx.Response:
        """Send a request, retrying transient failures; return the accepted response.

        ``template`` (``/customers/{id}.json``) names the endpoint in errors instead of the concrete path;
        ``kwargs`` go to :meth:`httpx.Client.request`. Raises :class:`RetryableError` once retries are
        exhausted and :class:`PermanentError` at once for a failure retrying cannot fix.
        """
        endpoint = f"{method.upper()} {template or path.partition('?')[0]}"
        self.stats.requests += 1
        controller = retrying(self.policy, sleep=self._sleep, on_retry=self._count_retry)
        return controller(self._attempt, method, path, endpoint, kwargs)

    def get_json(self, path: str, *, template: str | None = None, **kwargs: Any) -> Any:
        """GET ``path`` and decode its JSON body; a body that is not JSON is a :class:`PermanentError`."""
        response = self.request("GET", path, template=template, **kwargs)
        try:
            return response_json(response)
        except ValueError:
            endpoint = f"GET {template or path.partition('?')[0]}"
            raise PermanentError(f"{endpoint}: HTTP {response.status_code} body is not JSON") from None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _attempt(self, method: str, path: str, endpoint: str, kwargs: dict[str, Any]) -> httpx.Response:
        self.stats.attempts += 1
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            rule = self._rule_for_exception(error)
            # The cause keeps the OS or protocol detail for a traceback; it holds no URL, query or body.
            raise _error_for(rule, f"{endpoint}: {type(error).__name__} ({rule.reason})") from error
        rule = self._rule_for_response(response)
        if rule.action is Action.OK:
            return response
        response.close()
        retry_after = rule.retry_after
        if retry_after is None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        message = f"{endpoint}: HTTP {response.status_code} ({rule.reason})"
        raise _error_for(rule, message, status=response.status_code, retry_after=retry_after)

    def _rule_for_response(self, response: httpx.Response) -> ErrorRule:
        if self.classify is not None and (rule := self.classify(response)) is not None:
            return rule
        for rule in self.rules:
            if response.status_code in rule.statuses:
                return rule
        return _SUCCESS if response.status_code < 400 else _UNEXPECTED_STATUS

    def _rule_for_exception(self, error: httpx.TransportError) -> ErrorRule:
        for rule in self.rules:
            if rule.exception is not None and isinstance(error, rule.exception):
                return rule
        return _BROKEN_TRANSPORT

    def _count_retry(self, event: RetryEvent) -> None:
        self.stats.retries += 1
        self.stats.waited += event.delay


def response_json(response: httpx.Response) -> Any:
    """The body decoded as JSON; ``ValueError`` if it is not JSON.

    Arrays or objects nested past the decoder's recursion limit are a ``ValueError`` too (``core.sync.wire``).
    """
    return decode_json(response.content)


def _error_for(
    rule: ErrorRule, message: str, *, status: int | None = None, retry_after: float | None = None
) -> RetryableError | PermanentError:
    if rule.action is Action.RETRY:
        return RetryableError(message, retry_after=retry_after, status=status)
    return PermanentError(message, status=status)
