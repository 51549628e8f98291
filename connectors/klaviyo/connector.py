"""``KlaviyoConnector``: the streams and writers of one Klaviyo account, put together."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

import httpx

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.config import KlaviyoConfig
from connectors.klaviyo.mapping import profile_mapper, profile_to_consent, states_consent, survey_mapper
from connectors.klaviyo.reading import read_profiles, read_survey_answers, survey_named
from connectors.klaviyo.streams import PROFILES_PATH, STREAM_SPECS
from connectors.klaviyo.writers_consent import write_member_consent
from connectors.klaviyo.writers_events import write_coupon_issued, write_points_expiring
from connectors.klaviyo.writers_profiles import write_member_loyalty, write_member_profile, write_member_segments
from core.errors import PermanentError, SyncError
from core.records import CanonicalRecord
from core.sync.contract import (
    CONSENT_MESSAGE,
    COUPON_MESSAGE,
    EXPIRING_MESSAGE,
    PROFILE_MESSAGE,
    SEGMENTS_MESSAGE,
    STATUS_MESSAGE,
    Batch,
    CheckResult,
    OutboundMessage,
    Rejected,
    StreamSpec,
)
from core.sync.mapping import RecordMapper, map_record
from core.sync.retry import RetryPolicy

Writer = Callable[[KlaviyoClient, KlaviyoConfig, OutboundMessage], None]


class KlaviyoConnector:
    """A ``Connector`` and ``OutboundWriter`` for one Klaviyo account (no webhooks: streams are polled).

    ``transport`` fakes the wire and ``retry`` tunes the shared client's retries (the conformance kit turns
    them off); ``clock`` tells the writers the time (an expired coupon is not announced).
    """

    streams: Sequence[StreamSpec] = tuple(STREAM_SPECS.values())
    outbound_kinds: Sequence[str] = (
        STATUS_MESSAGE, SEGMENTS_MESSAGE, COUPON_MESSAGE, EXPIRING_MESSAGE, CONSENT_MESSAGE, PROFILE_MESSAGE,
    )  # fmt: skip

    def __init__(
        self,
        instance: str,
        config: KlaviyoConfig,
        *,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.instance = instance
        self.config = config
        self._client = KlaviyoClient(config, api_key, transport=transport, retry=retry)
        self._profile_mapper = profile_mapper(
            config.kana_property, config.birthday_property, f"{config.property_prefix}member_number"
        )
        self._writers: dict[str, Writer] = {
            STATUS_MESSAGE: write_member_loyalty,
            SEGMENTS_MESSAGE: write_member_segments,
            COUPON_MESSAGE: partial(write_coupon_issued, now=clock),
            EXPIRING_MESSAGE: partial(write_points_expiring, now=clock),
            CONSENT_MESSAGE: write_member_consent,
            PROFILE_MESSAGE: write_member_profile,
        }

    @property
    def attempts(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._client.attempts

    def check(self) -> CheckResult:
        """Read one profile: proves the URL, the key, its profiles scope and the revision."""
        try:
            self._client.list_page(PROFILES_PATH, {"page[size]": 1}, None)
        except SyncError as error:
            return CheckResult(ok=False, message=str(error))
        return CheckResult(ok=True, message=f"reached {self.config.base_url.host}; API key accepted")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Pages of ``stream`` from ``cursor`` on (see ``connectors.klaviyo.reading``)."""
        if stream == "profiles":
            return read_profiles(self._client, self.instance, self.config, self._profile_mapper, cursor)
        if stream == "consent":
            return read_profiles(
                self._client, self.instance, self.config, profile_to_consent, cursor, keep=states_consent
            )
        if stream == "survey_answers":
            return read_survey_answers(self._client, self.instance, self.config, cursor)
        raise PermanentError(f"the klaviyo connector has no stream {stream!r}")

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """Map one stored raw resource again (a dead letter being replayed after a fix)."""
        try:
            item = json.loads(raw)
        except ValueError:
            return Rejected(None, "stored payload is not JSON", raw)
        return map_record(self.instance, item, self._mapper_for(stream, item))

    def deliver(self, message: OutboundMessage) -> None:
        """Push one outbox message of a kind in ``outbound_kinds``."""
        writer = self._writers.get(message.kind)
        if writer is None:
            raise PermanentError(f"outbound kind {message.kind!r} is not supported by the klaviyo connector")
        writer(self._client, self.config, message)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _mapper_for(self, stream: str, item: object) -> RecordMapper:
        if stream == "profiles":
            return self._profile_mapper
        if stream == "consent":
            return profile_to_consent
        survey = survey_named(self.config.surveys, item) if stream == "survey_answers" else None
        if survey is not None:
            return survey_mapper(survey)
        raise PermanentError(f"the klaviyo connector cannot map records of stream {stream!r}")


def create_connector(instance: str, config: KlaviyoConfig, secrets: Mapping[str, str]) -> KlaviyoConnector:
    """The ``ConnectorType`` factory: ``secrets`` maps ``api_key_env`` to the private API key."""
    return KlaviyoConnector(instance, config, api_key=secrets["api_key_env"])
