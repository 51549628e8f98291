"""Settings of one Example API instance (a ``[connectors.<name>]`` table in ``hub.toml``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ExampleConfig(BaseModel):
    """Where the API is and the names of the environment variables holding its secrets (never the secrets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: AnyHttpUrl = Field(description="API root, e.g. https://api.example.jp")
    token_env: EnvVarName = Field("EXAMPLE_API_TOKEN", description="variable holding the bearer token")
    webhook_secret_env: EnvVarName = Field(
        "EXAMPLE_WEBHOOK_SECRETS",
        description="variable holding the webhook signing secret; two, comma-separated, while rotating",
    )
    page_size: int = Field(100, ge=1, le=200, description="records per page (the API allows up to 200)")
    timeout_s: float = Field(10.0, gt=0, le=120, description="deadline of one HTTP request, in seconds")
    max_attempts: int = Field(6, ge=1, le=20, description="tries per request, with backoff, before giving up")
