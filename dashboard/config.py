"""Settings for the dashboard: where the API is, how long to wait for it, where the dashboard listens."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class DashboardSettings(BaseSettings):
    """CP_DASHBOARD_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CP_DASHBOARD_", extra="ignore")

    api_url: str = "http://127.0.0.1:8000"
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)

    @field_validator("api_url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        """Bearer tokens travel to the API: plain http only to this machine."""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"CP_DASHBOARD_API_URL must be an http(s) URL, not '{value}'")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError("CP_DASHBOARD_API_URL must use https unless the API is on 127.0.0.1")
        return value.rstrip("/")


@lru_cache(maxsize=1)
def get_dashboard_settings() -> DashboardSettings:
    """The dashboard settings of this process, read once from the environment."""
    return DashboardSettings()
