"""Settings of one Zendesk Support account (a ``[connectors.<name>]`` table in ``hub.toml``)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Subdomain = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
# A user field key: Zendesk allows letters, digits, dashes and underscores (no spaces).
FieldKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[^\s,]{1,80}$")]


class ZendeskConfig(BaseModel):
    """Where the account is, how to authenticate, and the names of the variables holding its secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subdomain: Subdomain | None = Field(None, description="the account's subdomain: {subdomain}.zendesk.com")
    base_url: AnyHttpUrl | None = Field(None, description="API origin instead of the subdomain (the sandbox)")
    auth: Literal["api_token", "oauth"] = Field(
        "api_token", description="api_token: Basic {email}/token:{token}; oauth: Bearer {token}"
    )
    email: str | None = Field(None, description="the agent the API token belongs to (auth = api_token)")
    token_env: EnvVarName = Field("ZENDESK_API_TOKEN", description="variable holding the API or OAuth token")
    webhook_secret_env: EnvVarName = Field(
        "ZENDESK_WEBHOOK_SECRETS",
        description="variable holding the webhook signing secret; two, comma-separated, while rotating",
    )
    page_size: int = Field(1000, ge=1, le=1000, description="rows per incremental export page (max 1000)")
    comments_page_size: int = Field(100, ge=1, le=100, description="comments per page of a ticket's thread")
    start_time: AwareDatetime | None = Field(None, description="where the first export starts; default: 1970")
    timeout_s: float = Field(30.0, gt=0, le=120, description="deadline of one HTTP request, in seconds")
    max_attempts: int = Field(6, ge=1, le=20, description="tries per request (429, 5xx, timeouts)")
    category_field_id: int | None = Field(None, ge=1, description="ticket field holding the category")
    category_tag_prefix: str = Field("category_", max_length=40, description="else: the tag naming it")
    rank_field: FieldKey = Field("member_rank", description="user field (text) the member's rank goes to")
    points_field: FieldKey = Field("member_points", description="user field (integer) for spendable points")
    expiring_points_field: FieldKey | None = Field(None, description="user field for points about to expire")
    expiring_at_field: FieldKey | None = Field(None, description="user field (date) when those points expire")
    benefits_field: FieldKey | None = Field(
        None, description="user field (multiselect; option values = flag codes) for the rank's benefit flags"
    )
    loyalty_batch_size: int = Field(100, ge=1, le=100, description="users per update_many call (max 100)")
    job_poll_interval_s: float = Field(1.0, gt=0, le=60, description="seconds between job status polls")
    job_max_wait_s: float = Field(60.0, gt=0, le=600, description="how long to wait for one update_many job")
    ticket_tags: tuple[Tag, ...] = Field(("memberhub",), description="tags on the tickets the hub creates")
    webhook_tolerance_s: float = Field(300.0, gt=0, le=3600, description="accepted age (and skew) of a delivery")

    @model_validator(mode="after")
    def _account_and_credentials(self) -> Self:
        if (self.subdomain is None) == (self.base_url is None):
            raise ValueError("set exactly one of subdomain and base_url")
        if self.auth == "api_token" and not self.email:
            raise ValueError("auth = api_token needs the email of the agent the token belongs to")
        return self

    @property
    def api_root(self) -> str:
        """The origin requests go to (``/api/v2/…`` is added per request)."""
        if self.base_url is not None:
            return str(self.base_url).rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"

    @property
    def host(self) -> str:
        """The account's host, for messages."""
        return self.api_root.split("://", 1)[-1].split("/", 1)[0]
