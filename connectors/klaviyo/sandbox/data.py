"""Deterministic sandbox data: the town's people as Klaviyo profiles, and their survey answers as events.

Profile ``n`` is ``connectors.town.person(seed, n)``, the same person as Shopify's customer ``n``: kanji
names, an E.164 mobile number now and then, the kana in a custom property for some. Most subscribed to the
newsletter; some unsubscribed, never subscribed, bounced or suppressed. Survey answers come in two metrics
("Survey Answered": 満足度 1–5 and the staff's manner; "NPS Answered": 0–10), with Japanese comments, among
events of a metric no survey reads ("Opened Email"). Timestamps are UTC, whole seconds; some share a second,
and a bulk import stamps ``BURST`` rows with one ``updated`` so a page boundary falls inside a tie.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.town import PREFECTURES, Person, person, pick, unit

EPOCH = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
BURST = 13
NEWSLETTER_LIST_ID = "NwsLtr"
SATISFACTION_METRIC = "Survey Answered"
NPS_METRIC = "NPS Answered"
OTHER_METRIC = "Opened Email"
METRIC_IDS = {SATISFACTION_METRIC: "SvyAns", NPS_METRIC: "NpsAns", OTHER_METRIC: "OpnEml"}
STAFF_ANSWERS = ("とても良い", "良い", "普通", "悪い")
COMMENTS = (
    "店員さんがとても親切でした。また利用します。",
    "商品の品揃えが良かったです。",
    "レジの待ち時間が長かったです。",
    "配送が予定より二日遅れました。",
    "ポイントの使い方が分かりにくいです。",
    "季節限定の商品をもっと増やしてほしいです。",
    "包装が丁寧で贈り物に使えました。",
    "問い合わせへの返信がありませんでした。",
)
_KIND = "klaviyo"


def iso(moment: datetime) -> str:
    """Klaviyo's notation of an instant: UTC with an explicit offset, whole seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def profile_id(seed: int, number: int) -> str:
    """A 26-character Crockford-style id, like Klaviyo's, fixed by the seed and the person."""
    digest = hashlib.blake2b(f"{seed}:profile:{number}".encode(), digest_size=15).digest()
    return "01J" + base64.b32encode(digest).decode()[:23]


def event_id(seed: int, number: int) -> str:
    """A short alphanumeric event id, like Klaviyo's."""
    digest = hashlib.blake2b(f"{seed}:event:{number}".encode(), digest_size=8).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:11]


def generate_profiles(seed: int, count: int) -> list[dict[str, Any]]:
    """Profiles of persons 1…``count`` with their subscriptions, as ``GET /api/profiles/`` serves them."""
    rows = [_profile(seed, number, moment) for number, moment in timeline(seed, "profiles", count)]
    return bulk_touched(rows, "updated")


def generate_events(seed: int, profiles: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` events, nine in ten survey answers, by profiles who have an email address."""
    people = [row["id"] for row in profiles if row["attributes"]["email"]]
    rows = []
    for number, moment in timeline(seed, "events", count):
        answerer = people[pick(seed, _KIND, number, "answerer", len(people))]
        metric, properties = _event_body(seed, number)
        rows.append(event_row(event_id(seed, number), METRIC_IDS[metric], answerer, properties, moment))
    return bulk_touched(rows, "datetime")


def event_row(row_id: str, metric_id: str, owner: str, properties: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """An event resource as ``GET /api/events/`` serves it."""
    return {
        "type": "event",
        "id": row_id,
        "attributes": {
            "timestamp": int(moment.timestamp()),
            "event_properties": properties,
            "datetime": iso(moment),
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"klaviyo-sandbox:{row_id}")),
        },
        "relationships": {
            "profile": {"data": {"type": "profile", "id": owner}},
            "metric": {"data": {"type": "metric", "id": metric_id}},
        },
    }


def timeline(seed: int, kind: str, count: int) -> list[tuple[int, datetime]]:
    """Numbered moments 10–90 minutes apart; about one in seven shares the previous one's second."""
    moments: list[tuple[int, datetime]] = []
    now = EPOCH
    for number in range(1, count + 1):
        if not moments or unit(seed, kind, number, "tie") >= 0.15:
            now += timedelta(seconds=600 + pick(seed, kind, number, "gap", 4800))
        moments.append((number, now))
    return moments


def bulk_touched(rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """``BURST`` rows from a third of the way on, stamped with one ``field`` five minutes after the latest."""
    burst = rows[len(rows) // 3 : len(rows) // 3 + BURST]
    if burst:
        moment = max(datetime.fromisoformat(row["attributes"][field]) for row in burst) + timedelta(minutes=5)
        for row in burst:
            row["attributes"][field] = iso(moment)
            if field == "datetime":
                row["attributes"]["timestamp"] = int(moment.timestamp())
    return rows


def _profile(seed: int, number: int, created: datetime) -> dict[str, Any]:
    someone = person(seed, number)
    edited = unit(seed, _KIND, number, "edited") < 0.3
    updated = created + timedelta(days=1 + pick(seed, _KIND, number, "edit-days", 29)) if edited else created
    subscriptions = _subscriptions(seed, someone, created)
    marketing = subscriptions["email"]["marketing"]
    changes = [marketing["last_updated"], *(entry["timestamp"] for entry in marketing["suppression"])]
    updated = max([updated, *(datetime.fromisoformat(moment) for moment in changes if moment)])
    attributes: dict[str, Any] = {
        "email": someone.email,
        "phone_number": someone.mobile_e164 if unit(seed, _KIND, number, "phone") < 0.6 else None,
        "external_id": None if someone.email or someone.mobile_e164 else f"town-{number}",
        "first_name": someone.first_name,
        "last_name": someone.last_name,
        "organization": None,
        "locale": "ja-JP",
        "title": None,
        "image": None,
        "created": iso(created),
        "updated": iso(updated),
        "last_event_date": None,
        "location": _location(seed, someone),
        "properties": {"kana": someone.full_kana} if unit(seed, _KIND, number, "kana") < 0.5 else {},
        "subscriptions": subscriptions,
    }
    return {"type": "profile", "id": profile_id(seed, number), "attributes": attributes}


def _location(seed: int, someone: Person) -> dict[str, Any]:
    if unit(seed, _KIND, someone.number, "location") >= 0.5:
        return {"country": "Japan", "timezone": "Asia/Tokyo"}
    return {
        "address1": someone.street, "address2": someone.building, "city": someone.city, "country": "Japan",
        "region": PREFECTURES[someone.prefecture], "zip": someone.postal_code, "timezone": "Asia/Tokyo",
    }  # fmt: skip


def _subscriptions(seed: int, someone: Person, created: datetime) -> dict[str, Any]:
    """Email marketing: 62 % subscribed, 18 % unsubscribed, 10 % never, 10 % bounced or suppressed."""
    number = someone.number
    draw = unit(seed, _KIND, number, "consent")
    decided = created + timedelta(minutes=1 + pick(seed, _KIND, number, "consent-at", 600))
    consent, suppression = "SUBSCRIBED", []
    if someone.email is None or 0.80 <= draw < 0.90:
        consent = "NEVER_SUBSCRIBED"
    elif 0.62 <= draw < 0.80:
        consent = "UNSUBSCRIBED"
    elif draw >= 0.90:
        reason = "HARD_BOUNCE" if unit(seed, _KIND, number, "bounce") < 0.5 else "USER_SUPPRESSED"
        suppression = [{"reason": reason, "timestamp": iso(decided + timedelta(days=3))}]
    marketing = {
        "can_receive_email_marketing": consent == "SUBSCRIBED" and not suppression,
        "consent": consent,
        "consent_timestamp": None if consent == "NEVER_SUBSCRIBED" else iso(decided),
        "last_updated": None if consent == "NEVER_SUBSCRIBED" else iso(decided),
        "method": None if consent == "NEVER_SUBSCRIBED" else "FORM",
        "method_detail": None,
        "custom_method_detail": None,
        "double_optin": None,
        "suppression": suppression,
        "list_suppressions": [],
    }
    return {"email": {"marketing": marketing}}


def _event_body(seed: int, number: int) -> tuple[str, dict[str, Any]]:
    draw = unit(seed, "events", number, "metric")
    comment = COMMENTS[pick(seed, "events", number, "comment", len(COMMENTS))]
    has_comment = unit(seed, "events", number, "has-comment") < 0.6
    if draw < 0.5:
        properties: dict[str, Any] = {
            "survey": "post-purchase",
            "満足度": 1 + pick(seed, "events", number, "satisfaction", 5),
            "スタッフの対応": STAFF_ANSWERS[pick(seed, "events", number, "staff", len(STAFF_ANSWERS))],
        }
        metric = SATISFACTION_METRIC
    elif draw < 0.9:
        properties, metric = {"score": pick(seed, "events", number, "nps", 11)}, NPS_METRIC
    else:
        return OTHER_METRIC, {"Subject": "今月のおすすめ", "Campaign Name": "newsletter-2026-04"}
    if has_comment:
        properties["comment"] = comment
    return metric, properties
