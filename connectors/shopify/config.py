"""Settings of one Shopify shop (a ``[connectors.<name>]`` table in ``hub.toml``); several shops, several tables."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from connectors.shopify.queries import MAX_QUERY_COST, orders_page_cost

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ApiVersion = Annotated[str, StringConstraints(pattern=r"^(\d{4}-(01|04|07|10)|unstable)$")]
StoreCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# A tag pattern with one ``{code}`` and no comma (Shopify splits tags on commas); with a 32-character code a tag
# stays far below Shopify's 255 characters.
TagPattern = Annotated[str, StringConstraints(pattern=r"^[^,{}]{0,100}\{code\}[^,{}]{0,100}$")]
# A metafield namespace: 3–255 letters, digits, ``-`` or ``_`` (shopify.dev ``MetafieldsSetInput``).
Namespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,255}$")]

DEFAULT_API_VERSION = "2026-01"
"""Pinned: a dated version is supported for twelve months, so a shop upgrades it deliberately, by config."""
RETRY_WINDOW_S = 5 * 3600.0
"""Shopify retries a failed delivery 8 times over 4 hours with its original payload and trigger time
(shopify.dev changelog, September 2024), so a delivery younger than this is still legitimate."""


class ShopifyConfig(BaseModel):
    """Where the shop is, which API version to speak, and the names of the variables holding its secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_url: AnyHttpUrl = Field(description="the shop's admin origin, e.g. https://tokyo-shop.myshopify.com")
    api_version: ApiVersion = Field(DEFAULT_API_VERSION, description="GraphQL Admin API version, YYYY-MM")
    token_env: EnvVarName = Field("SHOPIFY_ACCESS_TOKEN", description="variable holding the Admin API token")
    webhook_secret_env: EnvVarName = Field(
        "SHOPIFY_WEBHOOK_SECRETS",
        description="variable holding the app's client secret; two, comma-separated, while rotating",
    )
    customers_page_size: int = Field(100, ge=1, le=250, description="customers per query (the API allows 250)")
    orders_page_size: int = Field(10, ge=1, le=250, description="orders per query; bounded by the query cost")
    line_items_per_order: int = Field(10, ge=1, le=250, description="line items read with each order; more are paged")
    refunds_per_order: int = Field(10, ge=1, le=50, description="refunds read with each order")
    store_codes: dict[str, StoreCode] = Field(
        default_factory=dict,
        description="store code of a POS location, keyed by the location's numeric id; default: that id",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="deadline of one HTTP request, in seconds")
    max_attempts: int = Field(6, ge=1, le=20, description="tries per query (THROTTLED, 5xx, timeouts)")
    bulk_poll_interval_s: float = Field(2.0, gt=0, le=60, description="seconds between polls of a bulk operation")
    bulk_max_wait_s: float = Field(
        600.0, gt=0, description="how long one run waits for a bulk operation; the next run goes on waiting"
    )
    bulk_max_attempts: int = Field(3, ge=1, le=10, description="bulk operations started per backfill when they fail")
    bulk_batch_size: int = Field(250, ge=1, le=5000, description="records per batch committed during a backfill")
    webhook_max_age_s: float = Field(
        RETRY_WINDOW_S, gt=0, description="refuse deliveries triggered longer ago than this (Shopify retries 4 h)"
    )
    webhook_max_skew_s: float = Field(300.0, ge=0, description="refuse deliveries triggered this far in the future")
    rank_tag: TagPattern = Field("rank:{code}", description="the customer tag of a rank; {code} is the rank code")
    segment_tag: TagPattern = Field("segment:{code}", description="the customer tag of a segment; {code}: its code")
    benefit_tag: TagPattern = Field(
        "benefit:{code}", description="the customer tag of a rank benefit flag; {code} is the flag"
    )
    metafield_namespace: Namespace = Field(
        "memberhub", description="namespace of the customer metafields rank and points the writers set"
    )

    @model_validator(mode="after")
    def _orders_query_fits_the_cost_limit(self) -> Self:
        cost = orders_page_cost(self.orders_page_size, self.line_items_per_order, self.refunds_per_order)
        if cost > MAX_QUERY_COST:
            raise ValueError(
                f"orders_page_size × (line items, refunds) asks for a query cost of {cost}, over Shopify's "
                f"single-query limit of {MAX_QUERY_COST}: lower orders_page_size or line_items_per_order"
            )
        return self

    @property
    def graphql_path(self) -> str:
        """The GraphQL endpoint's path under ``shop_url``."""
        return f"/admin/api/{self.api_version}/graphql.json"
