"""The writes the sandbox accepts, with Klaviyo's checks: profiles, events, list membership, subscriptions.

- ``POST /api/profiles/``: 201, or 409 ``duplicate_profile`` with ``meta.duplicate_profile_id`` when the
  email, phone number or external id is taken; ``POST /api/profile-import/`` upserts (200 or 201).
- ``PATCH /api/profiles/{id}/``: properties merge, ``null`` clears; 404 unknown, 409 on a taken email.
- ``POST /api/events/``: 202 with no body; one event per (metric, profile, ``unique_id``); ``time`` from
  the year 2000 to a year from now.
- ``POST``/``DELETE /api/lists/{id}/relationships/profiles/``: 204, at most 1,000 profiles.
- ``POST /api/profile-subscription-bulk-{create,delete}-jobs/``: 202, applied at once; a historical import
  needs ``consented_at`` in the past.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.klaviyo.sandbox.jsonapi import JSON_API, BadRequest, error_response
from connectors.klaviyo.sandbox.state import ReceivedEvent, SandboxState

IDENTIFIERS = ("email", "phone_number", "external_id")
MAX_LIST_CHANGE = 1000


class Writes:
    """Handlers of the write endpoints, over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def create_profile(self, request: Request) -> Response:
        """``POST /api/profiles/``."""
        attributes = _attributes(await _data(request, "profile"))
        duplicate = self._duplicate(attributes, None)
        if duplicate is not None:
            return duplicate
        return _profile_response(self.state.create_profile(attributes), 201)

    async def patch_profile(self, request: Request) -> Response:
        """``PATCH /api/profiles/{id}/``."""
        data = await _data(request, "profile")
        profile_id = request.path_params["profile_id"]
        if data.get("id") != profile_id:
            raise BadRequest("data.id must match the profile id in the path", pointer="/data/id")
        if self.state.profile(profile_id) is None:
            return error_response(404, "not_found", "Not found.", "A profile with this id does not exist.")
        attributes = _attributes(data)
        duplicate = self._duplicate(attributes, profile_id)
        return duplicate or _profile_response(self.state.change_profile(profile_id, attributes), 200)

    async def import_profile(self, request: Request) -> Response:
        """``POST /api/profile-import/``: update the profile the id or an identifier names, else create."""
        data = await _data(request, "profile")
        attributes = _attributes(data)
        found = data.get("id") or self._identified(attributes)
        if found is None:
            return _profile_response(self.state.create_profile(attributes), 201)
        if self.state.profile(found) is None:
            return error_response(404, "not_found", "Not found.", "A profile with this id does not exist.")
        return _profile_response(self.state.change_profile(found, attributes), 200)

    async def create_event(self, request: Request) -> Response:
        """``POST /api/events/``."""
        attributes = (await _data(request, "event")).get("attributes") or {}
        metric = _dig(attributes, "metric", "data", "attributes", "name")
        if not isinstance(metric, str) or not 0 < len(metric) <= 128:
            raise BadRequest("a metric name of 1 to 128 characters is required", pointer="/data/attributes/metric")
        properties = attributes.get("properties", {})
        if not isinstance(properties, dict) or len(properties) > 300:
            raise BadRequest("properties must be an object of at most 300 keys", pointer="/data/attributes/properties")
        profile_id = self._event_profile(_dig(attributes, "profile", "data") or {})
        moment = self._event_time(attributes.get("time"))
        unique_id = str(attributes.get("unique_id") or f"{metric}:{profile_id}:{moment.isoformat()}")
        event = ReceivedEvent(metric, profile_id, properties, unique_id, moment.isoformat(timespec="seconds"))
        self.state.accept_event(event)
        return Response(status_code=202)

    async def add_to_list(self, request: Request) -> Response:
        """``POST /api/lists/{id}/relationships/profiles/``."""
        return await self._change_list(request, add=True)

    async def remove_from_list(self, request: Request) -> Response:
        """``DELETE /api/lists/{id}/relationships/profiles/``."""
        return await self._change_list(request, add=False)

    async def subscribe(self, request: Request) -> Response:
        """``POST /api/profile-subscription-bulk-create-jobs/``."""
        data = await _data(request, "profile-subscription-bulk-create-job")
        attributes, list_id = data.get("attributes") or {}, _list_of(data)
        if list_id is not None and self.state.list_members(list_id) is None:
            return error_response(404, "not_found", "Not found.", "A list with this id does not exist.")
        historical = attributes.get("historical_import") is True
        chosen = [self._subscriber(profile, historical) for profile in _profiles_of(attributes)]
        for profile_id, consented_at in chosen:
            self.state.set_consent(profile_id, "SUBSCRIBED", consented_at)
        if list_id is not None:
            self.state.change_list(list_id, [profile_id for profile_id, _ in chosen], add=True)
        self.state.jobs.append({"type": "subscribe", "profiles": [pid for pid, _ in chosen], "list_id": list_id})
        return Response(status_code=202)

    async def unsubscribe(self, request: Request) -> Response:
        """``POST /api/profile-subscription-bulk-delete-jobs/`` (by email)."""
        data = await _data(request, "profile-subscription-bulk-delete-job")
        attributes, list_id = data.get("attributes") or {}, _list_of(data)
        emails = [_dig(profile, "attributes", "email") for profile in _profiles_of(attributes)]
        if not all(isinstance(email, str) for email in emails):
            raise BadRequest("each profile needs an email", pointer="/data/attributes/profiles")
        chosen = [pid for email in emails if (pid := self.state.profile_with("email", email)) is not None]
        for profile_id in chosen:
            self.state.set_consent(profile_id, "UNSUBSCRIBED", None)
        if list_id is not None and self.state.list_members(list_id) is not None:
            self.state.change_list(list_id, chosen, add=False)
        self.state.jobs.append({"type": "unsubscribe", "profiles": chosen, "list_id": list_id})
        return Response(status_code=202)

    def _duplicate(self, attributes: Mapping[str, Any], own_id: str | None) -> Response | None:
        for name in IDENTIFIERS:
            holder = self.state.profile_with(name, attributes.get(name))
            if holder is not None and holder != own_id:
                detail = f"A profile already exists with one of these identifiers ({name})."
                return error_response(409, "duplicate_profile", "Conflict.", detail,
                                      source={"pointer": f"/data/attributes/{name}"},
                                      meta={"duplicate_profile_id": holder})  # fmt: skip
        return None

    def _identified(self, attributes: Mapping[str, Any]) -> str | None:
        """The profile holding one of the identifiers in ``attributes``."""
        holders = (self.state.profile_with(name, attributes.get(name)) for name in IDENTIFIERS)
        return next((holder for holder in holders if holder is not None), None)

    def _event_profile(self, profile: Mapping[str, Any]) -> str:
        """The event's profile by id, or by identifier (created if new), as Klaviyo resolves it."""
        if profile.get("id") is not None:
            if self.state.profile(str(profile["id"])) is None:
                raise BadRequest("the profile id does not exist", pointer="/data/attributes/profile/data/id")
            return str(profile["id"])
        attributes = _attributes(profile)
        found = next(
            (pid for name in IDENTIFIERS if (pid := self.state.profile_with(name, attributes.get(name)))), None
        )
        if found is None and not any(attributes.get(name) for name in IDENTIFIERS):
            raise BadRequest("a profile identifier is required", pointer="/data/attributes/profile")
        return found or str(self.state.create_profile(attributes)["id"])

    def _event_time(self, value: Any) -> datetime:
        now = datetime.fromtimestamp(math.floor(self.state.wall_clock()), UTC)
        if value is None:
            return now
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise BadRequest("time must be an ISO 8601 datetime", pointer="/data/attributes/time") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment.year < 2000 or moment > now + timedelta(days=365):
            raise BadRequest("time must be after 2000 and within a year from now", pointer="/data/attributes/time")
        return moment

    def _subscriber(self, profile: Mapping[str, Any], historical: bool) -> tuple[str, datetime | None]:
        attributes = _attributes(profile)
        email = attributes.get("email")
        if not isinstance(email, str):
            raise BadRequest("email consent needs an email", pointer="/data/attributes/profiles")
        consented = _dig(attributes, "subscriptions", "email", "marketing", "consented_at")
        moment = self._consented_at(consented) if historical else None
        profile_id = profile.get("id") or self.state.profile_with("email", email)
        if profile_id is None:
            profile_id = self.state.create_profile({"email": email})["id"]
        elif self.state.profile(str(profile_id)) is None:
            raise BadRequest("the profile id does not exist", pointer="/data/attributes/profiles")
        return str(profile_id), moment

    def _consented_at(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise BadRequest("a historical import needs consented_at", pointer="/data/attributes/profiles")
        moment = self._event_time(value)
        if moment.timestamp() > self.state.wall_clock():
            raise BadRequest("consented_at must be in the past", pointer="/data/attributes/profiles")
        return moment

    async def _change_list(self, request: Request, *, add: bool) -> Response:
        list_id = request.path_params["list_id"]
        if self.state.list_members(list_id) is None:
            return error_response(404, "not_found", "Not found.", "A list with this id does not exist.")
        data = (await _document(request)).get("data")
        if not isinstance(data, list) or not 0 < len(data) <= MAX_LIST_CHANGE:
            raise BadRequest(f"data must list 1 to {MAX_LIST_CHANGE} profiles", pointer="/data")
        ids = [item.get("id") if isinstance(item, dict) else None for item in data]
        if any(not isinstance(pid, str) or self.state.profile(pid) is None for pid in ids):
            raise BadRequest("every profile must exist", pointer="/data")
        self.state.change_list(list_id, [str(pid) for pid in ids], add=add)
        return Response(status_code=204)


async def _document(request: Request) -> dict[str, Any]:
    try:
        document = json.loads(await request.body())
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON:API document")
    return document


async def _data(request: Request, kind: str) -> dict[str, Any]:
    data = (await _document(request)).get("data")
    if not isinstance(data, dict) or data.get("type") != kind:
        raise BadRequest(f"data must be a resource of type '{kind}'", pointer="/data/type")
    return data


def _attributes(resource: Mapping[str, Any]) -> dict[str, Any]:
    attributes = resource.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadRequest("attributes must be an object", pointer="/data/attributes")
    return attributes


def _profiles_of(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    profiles = _dig(attributes, "profiles", "data")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, dict) for p in profiles):
        raise BadRequest("profiles.data must list profiles", pointer="/data/attributes/profiles")
    return profiles


def _list_of(data: Mapping[str, Any]) -> str | None:
    list_id = _dig(data, "relationships", "list", "data", "id")
    return str(list_id) if list_id is not None else None


def _dig(value: Any, *path: str) -> Any:
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _profile_response(row: dict[str, Any], status: int) -> JSONResponse:
    row["attributes"].pop("subscriptions", None)
    return JSONResponse({"data": row}, status_code=status, media_type=JSON_API)
