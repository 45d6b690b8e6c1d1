"""Typed configuration: one TOML file plus the environment; secrets come from the environment only.

The file is found by `--config PATH`, else `$NEWSWATCH_CONFIG`, else `./newswatch.toml`; with
none of them the built-in defaults serve. A wrong file raises `ConfigError` naming the file,
the field, what was expected and what was given.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler.durations import Hours, Seconds
from crawler.errors import ConfigError
from crawler.sources import SourceConfig

ENV_CONFIG = "NEWSWATCH_CONFIG"
ENV_DATABASE_URL = "NEWSWATCH_DATABASE_URL"
ENV_SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
ENV_SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
ENV_BROKER_URL = "NEWSWATCH_BROKER_URL"
ENV_SLACK_APP_TOKEN = "SLACK_APP_TOKEN"  # noqa: S105 (a variable name, not a secret)
DEFAULT_FILE = "newswatch.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Strict):
    """Where everything is stored."""

    url: str = Field(
        "sqlite:///newswatch.db",
        description="SQLAlchemy URL. SQLite by default; postgresql+psycopg://user@host/db to grow. "
        "A password must come from $NEWSWATCH_DATABASE_URL, never the file.",
    )

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str) -> str:
        if urlsplit(value).password:
            raise ValueError(
                "the database URL in the file contains a password; put the whole URL in "
                f"${ENV_DATABASE_URL} instead"
            )
        return value


class CrawlConfig(_Strict):
    """Politeness and limits for every crawl."""

    user_agent: str = Field(
        "newswatch/0.1 (+{contact})", description="User-Agent; {contact} is replaced."
    )
    contact_url: str = Field(
        "https://github.com/newswatch/newswatch", description="Where site owners can reach you."
    )
    obey_robots_txt: bool = True
    concurrent_requests: int = Field(16, ge=1, le=256)
    concurrent_requests_per_domain: int = Field(4, ge=1, le=64)
    download_delay: Seconds = Field(0.0, ge=0, description="Seconds between requests to one site.")
    autothrottle: bool = True
    download_timeout: Seconds = Field(30.0, gt=0, description="Seconds per request.")
    retry_times: int = Field(2, ge=0, le=10)
    max_page_bytes: int = Field(5_000_000, ge=10_000, description="Larger bodies are dropped.")
    extract_workers: int = Field(
        0, ge=0, le=32, description="Extraction processes; 0 = one per CPU core but one."
    )
    extract_timeout: Seconds = Field(
        20.0, gt=0, description="Seconds one page may take to extract."
    )
    keep_raw_html_days: int = Field(30, ge=0, description="Raw HTML retention; 0 keeps nothing.")
    keep_unmatched_days: int = Field(
        90, ge=1, description="Non-matching articles are pruned after this many days."
    )

    @property
    def user_agent_string(self) -> str:
        """The User-Agent with the contact URL filled in."""
        return self.user_agent.replace("{contact}", self.contact_url)


class MatchingConfig(_Strict):
    """Which topic packs and thresholds the matcher uses."""

    topic_packs: list[Path] = Field(
        default_factory=list,
        description="Extra topic-pack TOML files (the built-in one always loads).",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="topic → score threshold"
    )
    disabled_topics: list[str] = Field(default_factory=list)
    prefilter: bool = Field(True, description="Skip extraction of pages with no topic term.")
    possible_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A topic scoring at least this share of its threshold (a rule fired) is "
        "stored as a possible match: listed for review, never alerted.",
    )


class SlackConfig(_Strict):
    """Slack destination; the token and webhook URL come from the environment."""

    api_url: str = Field("https://slack.com/api/", description="Web API base URL (proxies, tests).")
    timeout: Seconds = Field(10.0, gt=0)

    @property
    def bot_token(self) -> str | None:
        """The bot token from $SLACK_BOT_TOKEN, if set."""
        return os.environ.get(ENV_SLACK_BOT_TOKEN) or None

    @property
    def webhook_url(self) -> str | None:
        """The incoming-webhook URL from $SLACK_WEBHOOK_URL, if set."""
        return os.environ.get(ENV_SLACK_WEBHOOK_URL) or None

    @property
    def app_token(self) -> str | None:
        """The app-level token (xapp-…) from $SLACK_APP_TOKEN: turns on the alert buttons."""
        return os.environ.get(ENV_SLACK_APP_TOKEN) or None


class AlertsConfig(_Strict):
    """Where matches are announced, and the limits that prevent floods."""

    default_channel: str = Field("#newswatch", description="Channel for topics without their own.")
    channels: dict[str, str] = Field(default_factory=dict, description="topic → channel")
    health_channel: str | None = Field(
        None, description="Source-health alerts; default channel if unset."
    )
    max_age_hours: Hours = Field(72.0, gt=0, description="Older articles are stored, not alerted.")
    alert_first_crawl: bool = Field(
        False, description="Alert what the first crawl of a new source finds."
    )
    hourly_cap: int = Field(20, ge=1, description="Messages per channel per hour before a digest.")
    per_channel_interval: Seconds = Field(
        1.0, ge=0, description="Seconds between two posts to a channel."
    )
    max_attempts: int = Field(12, ge=1)
    backoff_base: Seconds = Field(5.0, gt=0)
    backoff_max: Seconds = Field(3600.0, gt=0)

    def channel_for(self, topic: str) -> str:
        """The channel a topic's alerts go to."""
        return self.channels.get(topic, self.default_channel)


class SchedulerConfig(_Strict):
    """The daemon's timing."""

    default_interval: Seconds = Field(
        900.0, gt=0, description="Seconds between crawls of a source."
    )
    jitter: float = Field(0.1, ge=0, le=1, description="Random share of the interval added.")
    max_concurrent_crawls: int = Field(2, ge=1, le=32)
    crawl_timeout: Seconds = Field(600.0, gt=0, description="Seconds before a crawl is killed.")
    dispatch_interval: Seconds = Field(5.0, gt=0)
    health_interval: Seconds = Field(300.0, gt=0)
    retention_interval: Seconds = Field(86400.0, gt=0)
    grace_period: Seconds = Field(30.0, ge=0, description="Seconds running crawls get on shutdown.")
    failure_alert_after: int = Field(3, ge=1, description="Failed runs in a row before alerting.")
    quiet_alert_hours: Hours = Field(
        48.0, gt=0, description="Hours with no new article before alerting."
    )
    backoff_max_factor: float = Field(
        8.0, ge=1, description="Cap on interval growth for failing sources."
    )
    executor: Literal["local", "celery"] = Field(
        "local",
        description="local: this process crawls (SQLite or PostgreSQL); celery: `newswatch "
        "worker` processes crawl, jobs go through $NEWSWATCH_BROKER_URL (PostgreSQL only).",
    )
    crawl_processes: Literal["warm", "per_crawl"] = Field(
        "warm",
        description="warm: long-lived crawl processes are fed jobs (no start-up cost); "
        "per_crawl: a fresh `scrapy crawl` process per crawl.",
    )
    crawl_hosts: int = Field(1, ge=1, le=16, description="Warm crawl processes per daemon/worker.")
    host_max_jobs: int = Field(
        500, ge=1, description="Crawls a warm process runs before it is replaced."
    )
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics port; 0 = off.")
    metrics_host: str = Field(
        "127.0.0.1", description="Address /metrics listens on (0.0.0.0 inside a container)."
    )


class LoggingConfig(_Strict):
    """Structured logs, one line per event."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["kv", "json"] = "kv"


class WebConfig(_Strict):
    """The review web page."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class IncidentsConfig(_Strict):
    """Incident records built from matched articles, and alerts per incident."""

    enabled: bool = Field(True, description="Extract and link incidents from matched articles.")
    redact_names: bool = Field(
        True, description='Detained people\'s names become "a man", "a woman", "a defendant".'
    )
    window_days: int = Field(
        180, ge=1, description="Days between developments of one incident, at most."
    )
    same_event_days: int = Field(
        1, ge=0, description="Arrests at one court further apart than this are two incidents."
    )
    link_threshold: float = Field(3.0, gt=0, description="Evidence score needed to link.")
    alerts: bool = Field(
        True, description="Thread alerts per incident (first article announces it)."
    )
    top_level: list[str] = Field(
        default_factory=list,
        description="Developments posted at top level, not in the thread (e.g. ruling, arrest).",
    )


class Settings(_Strict):
    """The whole configuration."""

    database: DatabaseConfig = DatabaseConfig()
    crawl: CrawlConfig = CrawlConfig()
    matching: MatchingConfig = MatchingConfig()
    alerts: AlertsConfig = AlertsConfig()
    slack: SlackConfig = SlackConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    logging: LoggingConfig = LoggingConfig()
    web: WebConfig = WebConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    sources: list[SourceConfig] = Field(default_factory=list)

    path: Path | None = Field(None, exclude=True, description="The file this came from.")

    @model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        seen: set[str] = set()
        for index, source in enumerate(self.sources):
            if source.name in seen:
                raise ValueError(f"sources[{index}].name: duplicate source name {source.name!r}")
            seen.add(source.name)
        return self

    @property
    def database_url(self) -> str:
        """The database URL: $NEWSWATCH_DATABASE_URL wins over the file."""
        return os.environ.get(ENV_DATABASE_URL) or self.database.url

    def source(self, name: str) -> SourceConfig:
        """The source named `name`, or ConfigError listing the known names."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (known: {known})", path=self._where())

    def _where(self) -> str | None:
        return str(self.path) if self.path else None


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    """Locate the config file: explicit path, then $NEWSWATCH_CONFIG, then ./newswatch.toml."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config file not found", path=str(path))
        return path
    env = os.environ.get(ENV_CONFIG)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"config file named by ${ENV_CONFIG} not found", path=str(path))
        return path
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def _format_loc(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
                label = f" ({name})" if name else ""
            parts.append(f"[{item}]{label}")
        else:
            parts.append(f".{item}" if parts else str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts)


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that the location `loc` inside `model` points into, if any."""
    current: Any = model
    for item in loc:
        if isinstance(item, int):
            continue  # list index: the element type was taken with the field
        fields = getattr(current, "model_fields", None)
        if not fields or item not in fields:
            return None
        current = _inner_model(fields[item].annotation)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def unknown_key_message(key: str, known: list[str], reference: str) -> str:
    """'unknown setting' with a did-you-mean from the model's field names."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown setting {key!r} — did you mean {close[0]!r}?"
    return f"unknown setting {key!r} (known here: {', '.join(known)}; see {reference})"


def validation_problems(
    error: ValidationError, data: dict[str, Any], path: Path | None = None
) -> list[ConfigError]:
    """Every problem pydantic found, one ConfigError each, in consistent wording."""
    where = str(path) if path else None
    problems: list[ConfigError] = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if isinstance(p, int) or "[" not in p)
        field = _format_loc(loc, data) or "(top level)"
        given = item.get("input")
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and loc:
            parent = _model_at(Settings, loc[:-1])
            known = sorted(parent.model_fields) if parent is not None else []
            known = [k for k in known if k != "path" or parent is not Settings]
            message = unknown_key_message(str(loc[-1]), known, "newswatch.example.toml")
        elif item["type"] == "missing":
            message = "required setting is missing"
        elif item["type"] != "value_error" and not isinstance(given, dict):
            message += f" (got {given!r:.80})"
        problems.append(ConfigError(message[:1].lower() + message[1:], path=where, field=field))
    return problems


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate the configuration (defaults when no file is found)."""
    found = find_config_file(path)
    if found is None:
        return Settings()
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(found)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=str(found)) from None
    return settings_from_dict(data, found)


def settings_from_dict(data: dict[str, Any], path: Path | None = None) -> Settings:
    """Validate a parsed config mapping; relative paths resolve against the file's folder."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.combine(validation_problems(exc, data, path)) from None
    if path is not None:
        base = path.parent
        packs = [p if p.is_absolute() else base / p for p in settings.matching.topic_packs]
        settings = settings.model_copy(
            update={
                "path": path,
                "matching": settings.matching.model_copy(update={"topic_packs": packs}),
            }
        )
        url = settings.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url.removeprefix("sqlite:///")
            if rel and rel != ":memory:":
                settings = settings.model_copy(
                    update={"database": DatabaseConfig(url=f"sqlite:///{(base / rel).resolve()}")}
                )
    return settings
