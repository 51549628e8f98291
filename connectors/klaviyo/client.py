"""HTTP to Klaviyo, and only here: JSON:API pages, profile and list writes, events and subscription jobs.

Every request carries the private key (``Authorization: Klaviyo-API-Key …``) and the pinned ``revision``.
Retry belongs to ``core.sync.http.ConnectorHttpClient``; this module adds Klaviyo's rows of the
error-classification table and reads ``links.next`` into the page cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from connectors.klaviyo.config import KlaviyoConfig
from core.errors import PermanentError
from core.sync.http import Action, ConnectorHttpClient, ErrorRule
from core.sync.retry import RetryPolicy

KLAVIYO_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "server error", statuses=tuple(range(500, 600))),
    ErrorRule(Action.FAIL, "request rejected: invalid, or the API key or revision header missing", statuses=(400,)),
    ErrorRule(Action.FAIL, "API key rejected", statuses=(401,)),
    ErrorRule(Action.FAIL, "API key lacks the scope", statuses=(403,)),
    ErrorRule(Action.FAIL, "no such resource", statuses=(404,)),
    ErrorRule(Action.FAIL, "conflict with an existing profile", statuses=(409,)),
)
"""Status → action for Klaviyo, before the shared ``DEFAULT_RULES``. Klaviyo documents 400 for a missing or
invalid key and answers 401 when it cannot authenticate; both are permanent. 429s carry ``Retry-After``."""

JSON_API = "application/vnd.api+json"
PROFILE_TEMPLATE = "/api/profiles/{id}/"
LIST_MEMBERS_TEMPLATE = "/api/lists/{id}/relationships/profiles/"
MAX_LIST_CHANGE = 1000  # profiles per list-relationship request


@dataclass(frozen=True)
class Page:
    """One JSON:API page: raw resources (validated later, one by one) and the ``page[cursor]`` of the next."""

    items: Sequence[Any]
    next_cursor: str | None


class KlaviyoClient:
    """Klaviyo's operations; they raise ``RetryableError`` or ``PermanentError``, PII-free."""

    def __init__(
        self,
        config: KlaviyoConfig,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = ConnectorHttpClient(
            str(config.base_url).rstrip("/"),
            headers={"Authorization": f"Klaviyo-API-Key {api_key}", "revision": config.revision,
                     "Accept": JSON_API, "User-Agent": "memberhub-klaviyo-connector"},
            timeout=config.timeout_s,
            transport=transport,
            policy=retry or RetryPolicy(max_attempts=config.max_attempts),
            rules=KLAVIYO_ERROR_RULES,
        )  # fmt: skip

    @property
    def attempts(self) -> int:
        """Requests sent on the wire, retries included."""
        return self._http.stats.attempts

    def list_page(self, path: str, params: Mapping[str, str | int], cursor: str | None) -> Page:
        """GET one page of a collection; ``cursor`` is the ``page[cursor]`` a previous page's ``links.next`` had."""
        query = {**params, **({"page[cursor]": cursor} if cursor else {})}
        return _page_from(self._http.get_json(path, params=query), path)

    def metric_ids(self, names: Iterable[str]) -> dict[str, list[str]]:
        """The ids of the metrics called ``names`` (a name unknown to the account maps to no id)."""
        wanted: dict[str, list[str]] = {name: [] for name in names}
        cursor: str | None = None
        while True:
            page = self.list_page("/api/metrics/", {}, cursor)
            for item in page.items:
                name = _attribute(item, "name")
                if name in wanted and isinstance(item.get("id"), str):
                    wanted[name].append(item["id"])
            if page.next_cursor is None:
                return wanted
            cursor = page.next_cursor

    def get_profile(self, profile_id: str) -> Mapping[str, Any]:
        """One profile with its subscriptions."""
        path = PROFILE_TEMPLATE.format(id=quote(profile_id, safe=""))
        body = self._http.get_json(
            path, template=PROFILE_TEMPLATE, params={"additional-fields[profile]": "subscriptions"}
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PermanentError(f"GET {PROFILE_TEMPLATE}: response is not a profile resource")
        return data

    def patch_profile(self, profile_id: str, properties: Mapping[str, Any]) -> None:
        """Set custom properties; properties left out are kept, ``None`` clears one."""
        self.patch_profile_attributes(profile_id, {"properties": dict(properties)})

    def patch_profile_attributes(self, profile_id: str, attributes: Mapping[str, Any]) -> None:
        """Change profile attributes (``properties`` among them); what is left out is kept, ``None`` clears."""
        document = {"data": {"type": "profile", "id": profile_id, "attributes": dict(attributes)}}
        path = PROFILE_TEMPLATE.format(id=quote(profile_id, safe=""))
        self._write("PATCH", path, PROFILE_TEMPLATE, document)

    def change_list_members(self, list_id: str, profile_ids: Sequence[str], *, add: bool) -> None:
        """Add profiles to a list, or remove them; both are no-ops for profiles already in that state."""
        path = LIST_MEMBERS_TEMPLATE.format(id=quote(list_id, safe=""))
        for start in range(0, len(profile_ids), MAX_LIST_CHANGE):
            chunk = profile_ids[start : start + MAX_LIST_CHANGE]
            document = {"data": [{"type": "profile", "id": profile_id} for profile_id in chunk]}
            self._write("POST" if add else "DELETE", path, LIST_MEMBERS_TEMPLATE, document)

    def create_event(
        self, *, metric: str, profile_id: str, properties: Mapping[str, Any], unique_id: str, time: str
    ) -> None:
        """Track an event on a profile; Klaviyo keeps one event per ``unique_id``, so a resend is harmless."""
        attributes = {
            "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            "profile": {"data": {"type": "profile", "id": profile_id}},
            "properties": dict(properties),
            "unique_id": unique_id,
            "time": time,
        }
        self._write("POST", "/api/events/", None, {"data": {"type": "event", "attributes": attributes}})

    def subscribe(self, *, profile_id: str, email: str, consented_at: str, list_id: str | None) -> None:
        """Record email marketing consent given at ``consented_at`` (a historical import keeps that time)."""
        consent = {"email": {"marketing": {"consent": "SUBSCRIBED", "consented_at": consented_at}}}
        profile = {"type": "profile", "id": profile_id, "attributes": {"email": email, "subscriptions": consent}}
        attributes = {"historical_import": True, "profiles": {"data": [profile]}}
        self._job("profile-subscription-bulk-create-job", attributes, list_id)

    def unsubscribe(self, *, email: str, list_id: str | None) -> None:
        """Withdraw email marketing consent (and leave ``list_id``, if given)."""
        consent = {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}
        profile = {"type": "profile", "attributes": {"email": email, "subscriptions": consent}}
        self._job("profile-subscription-bulk-delete-job", {"profiles": {"data": [profile]}}, list_id)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _job(self, kind: str, attributes: dict[str, Any], list_id: str | None) -> None:
        data: dict[str, Any] = {"type": kind, "attributes": attributes}
        if list_id is not None:
            data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
        self._write("POST", f"/api/{kind}s/", None, {"data": data})

    def _write(self, method: str, path: str, template: str | None, document: Mapping[str, Any]) -> None:
        self._http.request(method, path, template=template, json=document, headers={"Content-Type": JSON_API})


def _page_from(body: Any, path: str) -> Page:
    items = body.get("data") if isinstance(body, dict) else None
    links = body.get("links") if isinstance(body, dict) else None
    next_link = links.get("next") if isinstance(links, dict) else None
    if not isinstance(items, list) or not isinstance(next_link, str | None):
        raise PermanentError(f"GET {path}: response is not a JSON:API page (no data list or a bad links.next)")
    return Page(items, _cursor_of(next_link) if next_link else None)


def _cursor_of(link: str) -> str:
    """The ``page[cursor]`` of a ``links.next`` URL: the rest of the URL repeats the query we sent."""
    cursors = parse_qs(urlsplit(link).query).get("page[cursor]")
    if not cursors:
        raise PermanentError("links.next carries no page[cursor]")
    return cursors[0]


def _attribute(item: Any, name: str) -> Any:
    attributes = item.get("attributes") if isinstance(item, dict) else None
    return attributes.get(name) if isinstance(attributes, dict) else None
