"""VTN settings: one source, read once in the CLI and passed down (never read at import)."""

from __future__ import annotations

import json
import re
import secrets
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from vtn.networks import parse_networks

DEFAULT_DB_URL = "sqlite:///./flexvpp.db"
# The databases the VTN runs on (vtn/db/engine.py gives each its asyncio driver).
DB_URL_SCHEMES = ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite", "postgresql", "postgres",
                  "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2")  # fmt: skip
# An HTTP header name is a token (RFC 9110 5.1): a CR or LF in it would split the header block.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ConfigFileError(ValueError):
    """A settings file that cannot be read or parsed; the message names the file and what is wrong."""


class VtnSettings(BaseSettings):
    """Settings of the VTN process. Environment variables are prefixed `FLEXVPP_`."""

    model_config = SettingsConfigDict(env_prefix="FLEXVPP_", extra="forbid")

    db_url: str = Field(DEFAULT_DB_URL, description="SQLAlchemy URL: sqlite:///file.db or postgresql://...")
    # PostgreSQL's connection pool, per process (each `--workers` worker has its own): keep
    # instances x workers x (size + overflow) under the server's max_connections (100 by default).
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connections each VTN process keeps open")
    db_pool_overflow: int = Field(
        20, ge=0, description="connections a process may open beyond db_pool_size under load (closed after)"
    )
    # Shorter than a VEN's own wait for an answer (the agent's is 10 s), so that a VEN hears
    # "busy, retry after 5 s" rather than giving up on its connection and paying a new TLS handshake.
    db_pool_timeout_seconds: float = Field(
        5.0, gt=0, description="a request waits this long for a free connection, then gets 503 (OpenADR)"
    )
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Upper case: OpenADR conformance (and the stock openleadr client) reject a lowercase vtnID.
    vtn_id: str = "FLEXVPP-VTN"
    openadr_path: str = "/OpenADR2/Simple/2.0b"
    poll_interval_seconds: int = Field(10, ge=1, description="oadrRequestedOadrPollFreq sent to VENs")
    report_interval_seconds: int = Field(60, ge=1, description="granularity of requested telemetry")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest accepted request body")
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="a request body must arrive whole within this long (else 408, then closed)"
    )
    keepalive_seconds: float = Field(
        75.0,
        gt=0,
        description="an idle VEN connection stays open this long: above the VENs' poll period, each poll "
        "reuses its (TLS) connection instead of paying a new handshake",
    )
    access_log: bool = Field(False, description="log every HTTP request (aiohttp's access log; costs CPU)")
    accept_unqualified_schema_version: bool = Field(
        False,
        description="accept an OpenADR payload whose only fault is a schemaVersion attribute without its "
        "namespace (older VENs), with a warning; off: HTTP 400 like any schema-invalid payload",
    )
    near_window_seconds: int = Field(
        3600, ge=0, description="an event is 'near' this long before its start (or within its ramp-up)"
    )
    # At-least-once outbox (docs/vtn.md, "The outbox and oadrPoll").
    outbox_resend_seconds: float = Field(
        5.0,
        ge=0,
        description="a message the VEN has not acknowledged goes out again on its first poll at least "
        "this long (VTN clock) after the last send",
    )
    outbox_max_sends: int = Field(
        10, ge=1, description="after this many sends without an acknowledgement the VTN gives up on a message"
    )
    # Mutual TLS (vtn/tls.py). Without tls_cert_file the VTN serves plain HTTP (behind a proxy).
    tls_cert_file: Path | None = Field(None, description="server certificate (PEM, with its chain)")
    tls_key_file: Path | None = Field(None, description="private key of tls_cert_file")
    # A second server certificate of the other key type: each OpenADR suite needs its own
    # (RSA for TLS_RSA_WITH_AES_128_CBC_SHA256, ECDSA for TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256).
    tls_extra_cert_file: Path | None = Field(None, description="second server certificate (other key type)")
    tls_extra_key_file: Path | None = Field(None, description="private key of tls_extra_cert_file")
    tls_ca_file: Path | None = Field(None, description="CA that signs VEN client certificates (required)")
    trusted_proxy_addresses: list[str] = Field(
        default_factory=list,
        description="TLS-terminating proxies (IPs or CIDR) whose cert header is believed",
    )
    client_cert_header: str = Field(
        "X-SSL-Client-Cert",
        min_length=1,
        description="header with the proxy-verified client cert (URL-encoded PEM)",
    )

    require_ven_fingerprint: bool | None = Field(
        None,
        description="refuse (463) a VEN provisioned without a certificate fingerprint; default: "
        "when client certificates are required (tls_ca_file or trusted_proxy_addresses set)",
    )

    # XML signatures (vtn/openadr/signature.py). Per VEN `xml_signatures` (POST/PATCH /api/v1/vens)
    # overrides the VTN-wide default below.
    xml_signatures: str = Field(
        "optional",
        pattern="^(required|optional|off)$",
        description="VENs must sign (required), signatures are verified when present (optional), "
        "or ignored (off); a VEN's own setting overrides this",
    )
    xml_signature_max_skew_seconds: int = Field(
        300,
        ge=1,
        le=86_400,
        description="replay window: a signed message's ReplayProtect timestamp may differ this much "
        "from the VTN's clock (either way); its nonce is refused a second time within it",
    )
    xml_signing_cert_file: Path | None = Field(
        None, description="certificate the VTN signs its replies with (default: tls_cert_file)"
    )
    xml_signing_key_file: Path | None = Field(
        None, description="private key of xml_signing_cert_file (default: tls_key_file)"
    )

    # REST: a client address with this many failed authentications (401) within the window gets 429.
    auth_failure_limit: int = Field(10, ge=1, description="failed REST authentications allowed per window")
    auth_failure_window_seconds: float = Field(60.0, gt=0, description="window of auth_failure_limit")

    # The operator's dashboard (vtn/dashboard): its session cookies are signed with this key. The
    # default is drawn once per `vtn serve` (its workers get it with the settings), so sessions end
    # when the VTN restarts; set FLEXVPP_DASHBOARD_SECRET to keep them across restarts.
    dashboard_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        min_length=16,
        description="key signing the dashboard's session cookies (default: random per start)",
    )
    dashboard_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="a dashboard login lasts this long"
    )

    # The aggregator's closed loop (vtn/portfolio): day-ahead run, re-planning, simulated clock.
    dayahead_time: str | None = Field(
        None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="daily planning run, HH:MM local"
    )
    timezone: str = Field("Europe/Brussels", description="the zone of dayahead_time")
    portfolio_loop: bool = Field(True, description="watch VENs and re-plan on events (off: on demand only)")
    replan_check_seconds: float = Field(
        5.0, gt=0, description="how often the loop looks for changes (real s)"
    )
    replan_every_minutes: float = Field(60.0, gt=0, description="rolling re-plan this often (VTN clock)")
    deviation_tolerance_kw: float = Field(
        3.0, gt=0, description="mean |measured - scheduled| net import that excludes a home"
    )
    offline_after_seconds: float = Field(60.0, gt=0, description="no poll for this long (real s): offline")
    # Several instances on one PostgreSQL database (vtn/services/leadership.py, docs/vtn.md).
    leader_takeover_seconds: float = Field(
        10.0,
        ge=1,
        le=300,
        description="the most the planning loop stays without a leader after its leader died (real s): "
        "instances try for it every fifth of this",
    )
    planner_solver: str = Field("highs", pattern="^(highs|glpk)$")
    planner_method: str = Field(
        "auto",
        pattern="^(auto|joint|decomposition|coordination)$",
        description="portfolio caps/floors: exact joint / column generation (auto: by size) "
        "or fast price coordination",
    )
    dispatch_target: str = Field(
        "site",
        pattern="^(site|ev)$",
        description="what LOAD_DISPATCH setpoints steer: the site's net import, or the EV charger's power "
        "(the agents' dispatch_device must then name the charger)",
    )
    # The households' webhooks (vtn/notifications.py, aggregator/notifications.py).
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=3600, description="how often pending notifications are looked for (real s)"
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="a receiver's whole answer must come within this (real s)"
    )
    webhook_first_retry_seconds: float = Field(
        1.0, gt=0, description="wait after a webhook's first failed attempt; doubles per attempt"
    )
    webhook_max_retry_seconds: float = Field(3600.0, gt=0, description="the longest wait between attempts")
    # OpenADR 3.1 notifications (vtn/openadr3/notifiers*.py, aggregator/openadr3_notifications.py):
    # published on this broker and POSTed to the subscriptions' callbacks, retried as the
    # households' webhooks are (webhook_* above).
    openadr3_mqtt_broker: str | None = Field(
        None,
        description="broker the 3.1 notifications go to, mqtt://host[:port] (none: webhooks only)",
    )
    openadr3_mqtt_uris: list[str] = Field(
        default_factory=list,
        description="broker URIs that GET /openadr3/notifiers gives (default: openadr3_mqtt_broker)",
    )
    openadr3_mqtt_topic_prefix: str = Field(
        "openadr3",
        pattern=r"^[^+#/\x00][^+#\x00]*$",
        description="first level(s) of every 3.1 notification topic",
    )
    # A simulated clock for demos and tests: VTN time = clock_origin + (now - clock_anchor) * clock_speed.
    clock_speed: float = Field(1.0, gt=0, description="VTN clock speed (1: real time)")
    clock_origin: datetime | None = Field(None, description="the VTN time at clock_anchor")
    clock_anchor: datetime | None = Field(
        None, description="the real time at which the VTN time is clock_origin"
    )

    @property
    def ven_fingerprint_required(self) -> bool:
        """Is a VEN without a provisioned fingerprint refused (not trusted on the CA alone)?"""
        if self.require_ven_fingerprint is not None:
            return self.require_ven_fingerprint
        return self.tls_ca_file is not None or bool(self.trusted_proxy_addresses)

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or not rest.strip():
            raise ValueError(
                f"{value!r} is not a database URL (sqlite:///file.db or postgresql://user@host/db)"
            )
        if scheme not in DB_URL_SCHEMES:
            raise ValueError(
                f"{scheme!r} databases are not supported: use sqlite:///file.db or postgresql://..."
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Brussels)") from None
        return value

    @field_validator("client_cert_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")
        return value

    @field_validator("trusted_proxy_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("openadr3_mqtt_broker")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            try:
                parts.port  # noqa: B018  (raises ValueError for a bad port)
            except ValueError:
                raise ValueError(f"broker URL {value!r}: bad port") from None
            if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
                raise ValueError(f"broker URL {value!r}: expected mqtt://host[:port]")
        return value

    @model_validator(mode="after")
    def _tls_pairs(self) -> VtnSettings:
        for cert, key, name in (
            (self.tls_cert_file, self.tls_key_file, "tls_cert_file"),
            (self.tls_extra_cert_file, self.tls_extra_key_file, "tls_extra_cert_file"),
        ):
            if (cert is None) != (key is None):
                raise ValueError(f"{name} and its key file must be given together")
        if (self.xml_signing_cert_file is None) != (self.xml_signing_key_file is None):
            raise ValueError("xml_signing_cert_file and xml_signing_key_file must be given together")
        if self.tls_cert_file is None and (self.tls_extra_cert_file or self.tls_ca_file):
            raise ValueError("tls_extra_cert_file and tls_ca_file need tls_cert_file")
        return self


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
    """The [vtn] table of a TOML file (or the top level, or a JSON object); ConfigFileError names the
    file and the fault rather than a traceback."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigFileError(f"{path}: is a directory, not a settings file") from None
    except PermissionError:
        raise ConfigFileError(f"{path}: cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path}: is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: invalid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigFileError(f"{path}: invalid JSON: {exc} (a .toml file is read as TOML)") from None
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path}: must hold a table of settings, not {type(data).__name__} {data!r:.40}"
        )
    section = data.get("vtn", data)
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path}: vtn must be a table of settings, not {section!r:.40}")
    return section
