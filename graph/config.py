"""Settings for the database package: where Neo4j is, how the local one is run, and what the directory holds."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The Neo4j 5.26 LTS patch fetched from Maven Central for the local DBMS.
NEO4J_VERSION = "5.26.30"


class GraphSettings(BaseSettings):
    """Connection to any Neo4j 5 (NEO4J_*) and the local embedded DBMS (CP_NEO4J_*)."""

    model_config = SettingsConfigDict(env_prefix="CP_NEO4J_", extra="ignore", populate_by_name=True)

    uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NEO4J_URI", "CP_NEO4J_URI"),
        description="Bolt or neo4j:// URI; defaults to the local DBMS on 127.0.0.1.",
    )
    user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER", "CP_NEO4J_USER"))
    password: SecretStr = Field(
        default=SecretStr("contactpoint-local"),
        validation_alias=AliasChoices("NEO4J_PASSWORD", "CP_NEO4J_PASSWORD"),
    )
    database: str = Field(
        default="neo4j", validation_alias=AliasChoices("NEO4J_DATABASE", "CP_NEO4J_DATABASE")
    )

    # The local embedded DBMS (ignored when NEO4J_URI points elsewhere).
    home: Path = PROJECT_ROOT / ".neo4j"
    dist: Path | None = Field(default=None, description="Where the jars are built (default HOME/dist).")
    bolt_port: int = Field(default=7687, ge=1, le=65535)
    heap: str = Field(default="1g", pattern=r"^\d+[kmgKMG]$")
    pagecache: str = Field(default="1g", pattern=r"^\d+[kmgKMG]$")
    version: str = NEO4J_VERSION

    # What the directory holds (docs/privacy.md): every child ("full"), or only children known to be at risk
    # ("targeted": a CP plan, looked after or child in need now or within the last `targeted_months` months).
    scope: Literal["full", "targeted"] = Field(default="full", validation_alias=AliasChoices("CP_SCOPE"))
    targeted_months: int = Field(default=12, ge=1, le=120, validation_alias=AliasChoices("CP_TARGETED_MONTHS"))

    @field_validator("home", "dist")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        """A relative CP_NEO4J_HOME is taken from where the command runs (the DBMS runs elsewhere)."""
        return None if path is None else path.expanduser().resolve()

    @property
    def dist_root(self) -> Path:
        """The folder of launcher builds; DBMS homes may share one."""
        return self.dist or self.home / "dist"

    @property
    def bolt_uri(self) -> str:
        """The URI the driver connects to."""
        return self.uri or f"bolt://127.0.0.1:{self.bolt_port}"


@lru_cache(maxsize=1)
def get_settings() -> GraphSettings:
    """The settings of this process, read once from the environment."""
    return GraphSettings()
