"""Settings for the dashboard: where the API is, how long to wait for it, where the dashboard listens."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*$")


class DashboardSettings(BaseSettings):
    """CP_DASHBOARD_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CP_DASHBOARD_", extra="ignore")

    api_url: str = "http://127.0.0.1:8000"
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)
    # Host names besides this machine's that the API may be reached at over plain http, comma-separated: only
    # for a private network the dashboard and the API alone share (docker-compose.yml's `api`).
    plain_http_hosts: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("plain_http_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        """'api, other' from the environment; each entry one exact host name, no wildcards, schemes or ports."""
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple, set, frozenset)):
            hosts = frozenset(str(part).strip().lower() for part in value)
            bad = sorted(h for h in hosts if not HOST_NAME.match(h))
            if bad:
                raise ValueError(f"CP_DASHBOARD_PLAIN_HTTP_HOSTS must list host names, not {', '.join(bad)}")
            return hosts
        return value

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"CP_DASHBOARD_API_URL must be an http(s) URL, not '{value}'")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _safe_url(self) -> DashboardSettings:
        """Bearer tokens travel to the API: plain http only to this machine or a host listed as private."""
        parts = urlsplit(self.api_url)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK | self.plain_http_hosts:
            raise ValueError("CP_DASHBOARD_API_URL must use https unless the API is on 127.0.0.1 or its host is "
                             f"listed in CP_DASHBOARD_PLAIN_HTTP_HOSTS (not '{parts.hostname}')")
        return self


@lru_cache(maxsize=1)
def get_dashboard_settings() -> DashboardSettings:
    """The dashboard settings of this process, read once from the environment."""
    return DashboardSettings()
