"""Settings for the API: signing key, token lifetime, lockout, demo mode and where it listens."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholder secrets that only demo mode accepts.
DEMO_JWT_SECRET = "demo-only-signing-key-change-me-0123456789abcdef"
DEMO_PSEUDONYM_KEY = "demo-only-pseudonym-key-change-me-0123456789abcdef"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ApiSettings(BaseSettings):
    """CP_API_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CP_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    demo_mode: bool = False
    jwt_secret: SecretStr = SecretStr(DEMO_JWT_SECRET)
    token_minutes: int = Field(default=15, ge=1, le=240)
    lockout_attempts: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)
    search_limit: int = Field(default=20, ge=1, le=100)
    # The misuse watch (graph/misuse.py): more than this many children's records opened by one user within
    # this many minutes raises a misuse alert to their authority's management team.
    misuse_records: int = Field(default=50, ge=1, le=100_000)
    misuse_minutes: int = Field(default=60, ge=1, le=1440)
    # The HMAC key of reviewers' pseudonyms: changing it changes every pseudonym.
    pseudonym_key: SecretStr = SecretStr(DEMO_PSEUDONYM_KEY)

    @model_validator(mode="after")
    def _safe(self) -> ApiSettings:
        secret = self.jwt_secret.get_secret_value()
        if not self.demo_mode:
            if secret == DEMO_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "CP_API_JWT_SECRET must be set to a random value of at least 32 characters outside demo mode"
                )
            key = self.pseudonym_key.get_secret_value()
            if key == DEMO_PSEUDONYM_KEY or len(key) < 32:
                raise ValueError(
                    "CP_API_PSEUDONYM_KEY must be set to a random value of at least 32 characters outside demo mode"
                )
        elif self.host not in LOOPBACK:
            raise ValueError(f"demo mode only listens on 127.0.0.1, not {self.host}")
        return self


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """The API settings of this process, read once from the environment."""
    return ApiSettings()
