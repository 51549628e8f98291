"""HTTP to the Square API, and only here: searches, reads and the customer update, on the shared connector client.

Retry belongs to ``core.sync.http.ConnectorHttpClient``; this module contributes Square's rows of the
error-classification table. Square names every error with a ``category`` and a ``code`` from fixed lists, which
are safe to repeat in messages (``detail`` can quote input, so it is never read). A 429 ``RATE_LIMITED`` carries
no ``Retry-After``: the configured first wait stands in for it, and the shared backoff grows from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from connectors.square.config import SquareConfig
from core.errors import PermanentError
from core.sync.http import Action, ConnectorHttpClient, ErrorRule, response_json
from core.sync.retry import RetryPolicy

SQUARE_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "server error", statuses=tuple(range(500, 600))),
    ErrorRule(Action.FAIL, "request refused", statuses=(400,)),
    ErrorRule(Action.FAIL, "access token rejected", statuses=(401,)),
    ErrorRule(Action.FAIL, "access token lacks the permission", statuses=(403,)),
    ErrorRule(Action.FAIL, "no such resource", statuses=(404,)),
    ErrorRule(Action.FAIL, "changed meanwhile (version conflict)", statuses=(409,)),
)
"""Status → action for the Square API, before the shared ``DEFAULT_RULES``. Square's HTTP status matches its
first error's category (``INVALID_REQUEST_ERROR`` 400, ``AUTHENTICATION_ERROR`` 401/403, ``RATE_LIMIT_ERROR``
429, ``API_ERROR`` 5xx). A 409 means a ``version`` we sent is stale: resending it cannot help, so it is not retried
here; the writer reads the customer again."""

SEARCH_CUSTOMERS = "/v2/customers/search"
SEARCH_ORDERS = "/v2/orders/search"
_CUSTOMER = "/v2/customers/{id}"
_ORDER = "/v2/orders/{id}"


class SquareClient:
    """The Square operations MemberHub uses; they raise ``RetryableError`` or ``PermanentError``, PII-free."""

    def __init__(
        self,
        config: SquareConfig,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._rate_limited_wait_s = config.rate_limited_wait_s
        self._http = ConnectorHttpClient(
            str(config.base_url).rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Square-Version": config.square_version,
                     "Accept": "application/json", "User-Agent": "memberhub-square-connector"},
            timeout=config.timeout_s,
            transport=transport,
            policy=retry or RetryPolicy(max_attempts=config.max_attempts),
            rules=SQUARE_ERROR_RULES,
            classify=self._with_square_code,
        )  # fmt: skip

    def list_locations(self) -> list[dict[str, Any]]:
        """Every location of the seller (ListLocations: one page, no cursor)."""
        locations = _object(self._http.get_json("/v2/locations"), "GET /v2/locations").get("locations") or []
        if not isinstance(locations, list) or not all(isinstance(location, dict) for location in locations):
            raise PermanentError("GET /v2/locations: answer has no list of locations")
        return locations

    def search(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One page of SearchCustomers or SearchOrders (``path``)."""
        response = self._http.request("POST", path, json=dict(body))
        return _object(_json(response, f"POST {path}"), f"POST {path}")

    def retrieve_customer(self, customer_id: str) -> dict[str, Any] | None:
        """RetrieveCustomer's ``customer``, or ``None`` if the seller has no such customer."""
        return self._retrieve(_CUSTOMER, customer_id, "customer")

    def retrieve_order(self, order_id: str) -> dict[str, Any] | None:
        """RetrieveOrder's ``order``, or ``None`` if there is no such order."""
        return self._retrieve(_ORDER, order_id, "order")

    def update_customer(self, customer_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateCustomer: a sparse update (``""`` clears a field), guarded by the ``version`` in ``fields``."""
        path = _CUSTOMER.format(id=quote(customer_id, safe=""))
        response = self._http.request("PUT", path, template=_CUSTOMER, json=dict(fields))
        customer = _object(_json(response, f"PUT {_CUSTOMER}"), f"PUT {_CUSTOMER}").get("customer")
        if not isinstance(customer, dict):
            raise PermanentError(f"PUT {_CUSTOMER}: answer has no customer")
        return customer

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _retrieve(self, template: str, record_id: str, name: str) -> dict[str, Any] | None:
        try:
            body = self._http.get_json(template.format(id=quote(record_id, safe="")), template=template)
        except PermanentError as error:
            if error.status == 404:
                return None
            raise
        found = _object(body, f"GET {template}").get(name)
        if not isinstance(found, dict):
            raise PermanentError(f"GET {template}: answer has no {name}")
        return found

    def _with_square_code(self, response: httpx.Response) -> ErrorRule | None:
        """The table's rule for an error status, its reason naming Square's code; a wait for a bare 429."""
        if response.status_code < 400:
            return None
        rule = next((rule for rule in SQUARE_ERROR_RULES if response.status_code in rule.statuses), None)
        if rule is None:
            return None
        code = _error_code(response)
        if code:
            rule = replace(rule, reason=f"{rule.reason}: {code}")
        if response.status_code == 429 and "retry-after" not in response.headers:
            rule = replace(rule, retry_after=self._rate_limited_wait_s)
        return rule


def _error_code(response: httpx.Response) -> str | None:
    """``category/code`` of Square's first error; both come from fixed lists, so they hold no personal data."""
    try:
        errors = response_json(response).get("errors")
        first = errors[0]
        category, code = str(first.get("category", "")), str(first.get("code", ""))
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return None
    names = [
        part for part in (category, code) if len(part) <= 64 and part.replace("_", "").isalnum() and part.isupper()
    ]
    return "/".join(names) or None


def _json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response_json(response)
    except ValueError:
        raise PermanentError(f"{endpoint}: HTTP {response.status_code} body is not JSON") from None


def _object(body: Any, endpoint: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PermanentError(f"{endpoint}: answer is not a JSON object")
    return body
