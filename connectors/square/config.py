"""Settings of one Square seller account (a ``[connectors.<name>]`` table in ``hub.toml``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
SquareVersion = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
LocationId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
StoreCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

DEFAULT_SQUARE_VERSION = "2025-01-23"
"""Pinned: Square serves every dated version it released, so an upgrade is a deliberate config change."""
RETRY_WINDOW_S = 73 * 3600.0
"""Square retries an unacknowledged notification for up to 72 hours with the same body (developer.squareup.com
"Troubleshoot Webhooks"), so a notification younger than this is still legitimate."""


class SquareConfig(BaseModel):
    """Where the API is, which version to speak, and the names of the variables holding the secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://connect.squareup.com"),
        description="API root; https://connect.squareupsandbox.com for Square's own sandbox",
    )
    square_version: SquareVersion = Field(DEFAULT_SQUARE_VERSION, description="the Square-Version header")
    token_env: EnvVarName = Field("SQUARE_ACCESS_TOKEN", description="variable holding the access token")
    webhook_signature_key_env: EnvVarName = Field(
        "SQUARE_WEBHOOK_SIGNATURE_KEYS",
        description="variable holding the subscription's signature key; two, comma-separated, while rotating",
    )
    notification_url: AnyHttpUrl | None = Field(
        None,
        description="the subscription's notification URL exactly as Square has it (it is signed); none: no webhooks",
    )
    location_ids: tuple[LocationId, ...] = Field(
        (), description="the locations whose orders are read; default: every location ListLocations returns"
    )
    store_codes: dict[LocationId, StoreCode] = Field(
        default_factory=dict, description="store code of a location, keyed by its id; default: the location id"
    )
    customers_page_size: int = Field(100, ge=1, le=100, description="customers per search (Square allows 100)")
    orders_page_size: int = Field(200, ge=1, le=1000, description="orders per search (Square allows 1,000)")
    coupon_code_key: str = Field(
        "coupon_code", min_length=1, description="the discount metadata key holding a coupon code, when present"
    )
    rate_limited_wait_s: float = Field(
        2.0, gt=0, le=60, description="first wait after a 429 RATE_LIMITED, which carries no Retry-After"
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="deadline of one HTTP request, in seconds")
    max_attempts: int = Field(6, ge=1, le=20, description="tries per request, with backoff, before giving up")
    webhook_max_age_s: float = Field(
        RETRY_WINDOW_S, gt=0, description="refuse notifications created longer ago (Square retries for 72 h)"
    )
    webhook_max_skew_s: float = Field(300.0, ge=0, description="refuse notifications created this far in the future")
