"""Settings from ``jingzhun.toml`` (Pydantic-validated), overridable by CLI flags.

Looked up as ``$JINGZHUN_CONFIG`` or ``./jingzhun.toml``; every key is optional::

    [warehouse]
    path = "data/jingzhun.duckdb"   # default ./jingzhun.duckdb (or $JINGZHUN_DB)
    memory_limit = "4GB"            # DuckDB memory limit; beyond it DuckDB spills to disk
    threads = 2

    [secrets]
    key_file = "/secure/jingzhun.key"   # default $JINGZHUN_KEY_FILE or ~/.jingzhun/secret.key

    [profile]
    timezone = "Asia/Shanghai"      # local days, weekdays and hours of the profile (default UTC)
    tags_file = "my_tags.yaml"      # tag rules (default: the packaged rule set)
    active_multiple = 1.5           # lifecycle thresholds, in multiples of the expected gap
    at_risk_multiple = 3.0
    lost_multiple = 6.0
    min_gap_days = 7
    max_gap_days = 365
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from jingzhun.errors import ConfigError

CONFIG_ENV_VAR = "JINGZHUN_CONFIG"
DEFAULT_CONFIG = "jingzhun.toml"


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (``Asia/Shanghai``, ``UTC``); ``ConfigError`` if not."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}",
                          hint="use an IANA name such as 'Asia/Shanghai' or 'UTC'") from None
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseSettings(_Section):
    """Where the warehouse is and how much memory DuckDB may use."""

    path: str | None = None
    memory_limit: str | None = None
    threads: int | None = None


class SecretsSettings(_Section):
    """Where the pseudonym/vault key file is."""

    key_file: str | None = None


class ProfileSettings(_Section):
    """Time zone, tag rules and lifecycle thresholds of the customer profile."""

    timezone: str = "UTC"
    tags_file: str | None = None
    active_multiple: float = 1.5
    at_risk_multiple: float = 3.0
    lost_multiple: float = 6.0
    min_gap_days: float = 7.0
    max_gap_days: float = 365.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class Settings(_Section):
    """All settings."""

    warehouse: WarehouseSettings = WarehouseSettings()
    secrets: SecretsSettings = SecretsSettings()
    profile: ProfileSettings = ProfileSettings()


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from ``path``, ``$JINGZHUN_CONFIG`` or ``./jingzhun.toml`` (all optional)."""
    explicit = path or os.environ.get(CONFIG_ENV_VAR)
    path = Path(explicit or DEFAULT_CONFIG)
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {key}: {err['msg']}") from None
