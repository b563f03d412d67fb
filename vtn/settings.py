"""VTN settings: one source, read once in the CLI and passed down (never read at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///./flexvpp.db"


class VtnSettings(BaseSettings):
    """Settings of the VTN process. Environment variables are prefixed `FLEXVPP_`."""

    model_config = SettingsConfigDict(env_prefix="FLEXVPP_", extra="forbid")

    db_url: str = Field(DEFAULT_DB_URL, description="SQLAlchemy URL: sqlite:///file.db or postgresql://...")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Upper case: OpenADR conformance (and the stock openleadr client) reject a lowercase vtnID.
    vtn_id: str = "FLEXVPP-VTN"
    openadr_path: str = "/OpenADR2/Simple/2.0b"
    poll_interval_seconds: int = Field(10, ge=1, description="oadrRequestedOadrPollFreq sent to VENs")
    report_interval_seconds: int = Field(60, ge=1, description="granularity of requested telemetry")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest accepted request body")
    near_window_seconds: int = Field(
        3600, ge=0, description="an event is 'near' this long before its start (or within its ramp-up)"
    )


def load_settings(config_file: Path | None = None, **overrides: Any) -> VtnSettings:
    """Settings from (lowest first) defaults, a TOML/JSON config file, environment, then `overrides`.

    `overrides` are the command-line values; None means "not given".
    """
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = _read_config_file(config_file)
    given = {k: v for k, v in overrides.items() if v is not None}

    class _Settings(VtnSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (env_settings, init_settings)  # environment outranks the file

    env_and_file = _Settings(**file_values)
    merged = {**env_and_file.model_dump(), **given}
    return VtnSettings.model_validate(merged)


def _read_config_file(path: Path) -> dict[str, Any]:
    import json
    import tomllib

    text = path.read_text()
    data: dict[str, Any] = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    section = data.get("vtn", data)
    if not isinstance(section, dict):
        raise ValueError(f"{path}: [vtn] must be a table")
    return section
