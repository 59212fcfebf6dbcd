"""The configuration file: one TOML file, validated on load (PRODUCT.md section 7).

Every parameter of the balancing rules has its PRODUCT.md default here; an invalid file raises
:class:`~calsync.errors.ConfigError` naming the file, the key path and what is allowed.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.core.settings import (
    Bounds,
    CatalogueEntry,
    CatalogueKey,
    Classification,
    Rules,
)
from calsync.errors import ConfigError
from calsync.logs import remember_secret, remember_url_secrets
from calsync.schema import Check, Location, SchemaError, load


def _rules_input(value: Any, problems: list[tuple[Location, str]] | None = None, where: Location = ()) -> Any:
    """What a config file may say about the rules, in the shape :class:`Rules` takes: one window
    as a string for a list of them, and the retired ``heavy_before_long_hours`` (R8 in hours, now
    full calendar days; a value that is no such number goes to ``problems``)."""
    if not isinstance(value, Mapping):
        return value
    value = dict(value)
    if isinstance(value.get("strength_windows"), str):
        value["strength_windows"] = [value["strength_windows"]]
    by_day = value.get("strength_windows_by_day")
    if isinstance(by_day, Mapping):
        value["strength_windows_by_day"] = {k: [v] if isinstance(v, str) else v for k, v in by_day.items()}
    if "heavy_before_long_hours" in value:
        hours = value.pop("heavy_before_long_hours")
        number = isinstance(hours, int | float) and not isinstance(hours, bool) and math.isfinite(hours)
        if number and 0 <= hours <= 240:
            value.setdefault("heavy_before_long_days", math.ceil(hours / 24))
        elif problems is not None:
            said = repr(hours)[:40]
            problems.append(
                ((*where, "heavy_before_long_hours"), f"expected hours from 0 to 240, got {said}")
            )
    return value


def parse_rules(value: Mapping[str, Any]) -> Rules:
    """Rules from the mapping a ``[plan.rules]`` table holds (strings as a config file writes them).

    Raises :class:`~calsync.schema.SchemaError` on a value outside what PRODUCT.md allows."""
    return load(Rules, _rules_input(value))


def _matching(pattern: str, what: str) -> Check:
    """A text field that must match ``pattern`` (``what`` says what it should look like)."""
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")

    return Check(check)


_HTTP_URL = _matching(r"https?://\S+", "an http:// or https:// address")
_ENTITY_ID = _matching(r"calendar\.[a-z0-9_]+", "a calendar entity id like calendar.training")
_Seconds = Annotated[float, Bounds(gt=0, le=600)]


@dataclass(frozen=True, kw_only=True)
class IcsFileSource:
    """A local ``.ics`` file (read-only)."""

    kind: Literal["ics_file"]
    path: Path
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class IcsFileTarget:
    """A local ``.ics`` file calsync owns, written atomically."""

    kind: Literal["ics_file"]
    path: Path


@dataclass(frozen=True, kw_only=True)
class _Remote:
    """Keys shared by remote calendars: where, who, and where the secret comes from."""

    url: Annotated[str, _HTTP_URL]
    """The calendar collection itself, e.g. ``https://dav.example.org/calendars/me/training/``."""
    username: str | None = None
    password_env: str | None = None
    """Name of an environment variable holding the password."""
    password_file: Path | None = None
    """A file holding the password (e.g. ``/run/credentials/calsync.service/dav``)."""
    verify_tls: bool = True
    ca_file: Path | None = None
    """A CA bundle to trust (a self-hosted server with its own CA)."""
    timeout_seconds: _Seconds = 30.0

    def __post_init__(self) -> None:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")

    def password(self, where: str) -> str | None:
        """The password, read now from the environment or the file; never stored in the config."""
        return read_secret(self.password_env, self.password_file, where, "password")


def read_secret(env: str | None, file: Path | None, where: str, key: str) -> str | None:
    """A secret read now from an environment variable or a file; never stored in the config.

    ``where`` names the config table and ``key`` the secret's key (``password`` / ``token``), so
    an error says ``plan[me].source[0].token_env: ...``.
    """
    value: str | None = None
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{where}.{key}_env: the environment variable {env} is not set")
    elif file:
        try:
            data = file.read_bytes()
        except OSError as err:
            raise ConfigError(f"{where}.{key}_file: cannot read {file}: {err.strerror}") from err
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"{where}.{key}_file: {file} is not UTF-8 text (byte {err.start} is not); "
                "write the secret as plain text"
            ) from err
        # the line breaks an editor, `echo` or a here-document end the file with; spaces may be
        # part of a password and stay
        value = value.rstrip("\r\n")
        if "\n" in value or "\r" in value:
            raise ConfigError(
                f"{where}.{key}_file: {file} holds a line break inside the secret; "
                "write the secret on one line"
            )
    remember_secret(value)
    return value


@dataclass(frozen=True, kw_only=True)
class CaldavSource(_Remote):
    """A CalDAV calendar collection (read-only)."""

    kind: Literal["caldav"]
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaldavTarget(_Remote):
    """A CalDAV calendar collection calsync writes its sessions into (it may hold other events)."""

    kind: Literal["caldav"]


@dataclass(frozen=True, kw_only=True)
class IcsUrlSource:
    """An ``.ics`` feed over HTTP(S) or ``webcal://`` (a coach's subscription link), read-only.

    Basic auth (``username`` + ``password_env``/``password_file``) or a bearer token
    (``token_env``/``token_file``); read with a conditional GET, so an unchanged feed costs a 304.
    """

    kind: Literal["ics_url"]
    url: Annotated[str, _matching(r"(?i:https?|webcal)://\S+", "an http://, https:// or webcal:// address")]
    name: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    token_env: str | None = None
    """Name of an environment variable holding a bearer token."""
    token_file: Path | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout_seconds: _Seconds = 30.0
    max_bytes: Annotated[int, Bounds(ge=1_000, le=500_000_000)] = 20_000_000
    """A feed larger than this is refused (a failed read), not read into memory."""

    def __post_init__(self) -> None:
        given = [k for k in ("password_env", "password_file", "token_env", "token_file") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError("give one secret at most; got " + ", ".join(given))
        if self.username and not (self.password_env or self.password_file):
            raise ValueError("username needs password_env or password_file")
        remember_url_secrets(self.url)  # a feed link is often itself the secret

    @property
    def http_url(self) -> str:
        """The URL to fetch: ``webcal://`` is HTTPS (as calendar apps read it)."""
        if self.url[:9].lower() == "webcal://":
            return "https://" + self.url[9:]
        return self.url

    def password(self, where: str) -> str | None:
        """The basic-auth password, read now."""
        return read_secret(self.password_env, self.password_file, where, "password")

    def token(self, where: str) -> str | None:
        """The bearer token, read now."""
        return read_secret(self.token_env, self.token_file, where, "token")


@dataclass(frozen=True, kw_only=True)
class _HomeAssistant:
    """Keys shared by Home Assistant sources and targets."""

    url: Annotated[str, _HTTP_URL]
    """The Home Assistant instance, e.g. ``http://homeassistant.local:8123``."""
    entity_id: Annotated[str, _ENTITY_ID]
    token_env: str | None = None
    """Name of an environment variable holding a long-lived access token."""
    token_file: Path | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout_seconds: _Seconds = 30.0

    def __post_init__(self) -> None:
        if bool(self.token_env) == bool(self.token_file):
            raise ValueError("give token_env or token_file (a long-lived access token), exactly one")

    def token(self, where: str) -> str:
        """The access token, read now; never stored in the config."""
        value = read_secret(self.token_env, self.token_file, where, "token")
        if not value:
            raise ConfigError(f"{where}: the Home Assistant token is empty")
        return value


@dataclass(frozen=True, kw_only=True)
class HomeAssistantSource(_HomeAssistant):
    """A Home Assistant calendar entity holding the run plan (read-only)."""

    kind: Literal["homeassistant"]
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class HomeAssistantTarget(_HomeAssistant):
    """A Home Assistant Local Calendar entity calsync writes its sessions into."""

    kind: Literal["homeassistant"]
    sensors: bool = True
    """Publish ``sensor.calsync_<plan>_next_session`` and ``sensor.calsync_<plan>_week`` every pass."""


@dataclass(frozen=True, kw_only=True)
class FeedTarget:
    """Sessions served by ``calsync daemon`` at ``/feeds/<plan>.ics`` for calendar apps to subscribe to.

    The feed is kept in an ``.ics`` file (``path``, default ``<state dir>/feeds/<plan>.ics``),
    written atomically like an ``ics_file`` target, so ``rebuild`` and ``sync`` work without the daemon.
    """

    kind: Literal["feed"]
    path: Path | None = None


SourceConfig = IcsFileSource | IcsUrlSource | CaldavSource | HomeAssistantSource
"""A ``[[plan.source]]`` table, told apart by its ``kind``."""
TargetConfig = IcsFileTarget | CaldavTarget | HomeAssistantTarget | FeedTarget
"""A ``[plan.target]`` table, told apart by its ``kind``."""


@dataclass(frozen=True, kw_only=True)
class FeedServerConfig:
    """``[daemon.feeds]``: the HTTP server of ``feed`` targets."""

    host: str = "127.0.0.1"
    """Loopback by default; put a reverse proxy with TLS in front to expose it."""
    port: Annotated[int, Bounds(ge=0, le=65535)] = 8765
    token_env: str | None = None
    """A secret path part: feeds are served at ``/feeds/<token>/<plan>.ics`` only."""
    token_file: Path | None = None
    all_plans: bool = False
    """Also serve ``/feeds/all.ics``: every plan's runs and sessions in one feed."""

    def __post_init__(self) -> None:
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")

    def token(self) -> str | None:
        """The secret path part, read now."""
        value = read_secret(self.token_env, self.token_file, "daemon.feeds", "token")
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._~-]{16,256}", value):
            raise ConfigError(
                "daemon.feeds: the feed token must be 16 to 256 URL-safe characters "
                "(letters, digits, . _ ~ -)"
            )
        return value


_Interval = Annotated[float, Bounds(ge=1, le=86_400)]


@dataclass(frozen=True, kw_only=True)
class DaemonConfig:
    """``[daemon]``: the schedule of ``calsync daemon``."""

    poll_seconds: _Interval = 300.0
    """Incremental pass every this many seconds, per plan (``[[plan]] poll_seconds`` overrides)."""
    jitter_seconds: Annotated[float, Bounds(ge=0, le=3_600)] = 30.0
    """Each poll starts up to this much later, so plans and instances do not poll in step."""
    rebuild_at: time | None = time(3, 30)
    """A nightly full rebuild at this local time of each plan's zone (``"off"`` for none)."""
    max_backoff_seconds: _Interval = 3_600.0
    """A failing plan retries after 1, 2, 4, ... poll intervals, at most this long."""
    feeds: FeedServerConfig = field(default_factory=FeedServerConfig)


def _daemon_input(value: Any) -> Any:
    """``rebuild_at = "off"`` (or ``"none"``, ``""``): no nightly rebuild."""
    text = value.get("rebuild_at") if isinstance(value, Mapping) else None
    if isinstance(text, str) and text.strip().lower() in ("off", "none", ""):
        return {**value, "rebuild_at": None}
    return value


def _plain_id(value: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise ValueError(f"{value!r}: use 1 to 64 letters, digits, - and _")


def _known_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin'") from err


@dataclass(frozen=True, kw_only=True)
class PlanConfig:
    """One athlete's plan: where runs come from, where sessions go, and the rules."""

    id: Annotated[str, Check(_plain_id)]
    timezone: Annotated[str, Check(_known_zone)]
    source: Annotated[tuple[SourceConfig, ...], Bounds(min_length=1)]
    horizon_weeks: Annotated[int, Bounds(ge=1, le=104)] = 16
    a_race: date | None = None
    poll_seconds: _Interval | None = None
    """The daemon's poll interval for this plan (default: ``[daemon] poll_seconds``)."""
    target: TargetConfig | None = None
    rules: Rules = field(default_factory=Rules)
    classify: Classification = field(default_factory=Classification)
    catalogue: dict[CatalogueKey, CatalogueEntry] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        """The plan's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole file."""

    plan: Annotated[tuple[PlanConfig, ...], Bounds(min_length=1)]
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    path: Path = field(default=Path("calsync.toml"), metadata={"from_file": False})
    """Where the file was read from (set by the loader, never by the file)."""

    def __post_init__(self) -> None:
        ids = [p.id for p in self.plan]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"plan ids must be unique; repeated: {', '.join(dupes)}")
        if self.daemon.feeds.all_plans and "all" in ids:
            raise ValueError(
                'plan id "all" is the all-plans feed\'s name ([daemon.feeds] all_plans): rename it'
            )

    def find_plan(self, plan_id: str) -> PlanConfig:
        """The plan with this id, or a ConfigError listing the ids there are."""
        for plan in self.plan:
            if plan.id == plan_id:
                return plan
        raise ConfigError(
            f"{self.path}: no plan with id {plan_id!r}; plans: {', '.join(p.id for p in self.plan)}"
        )


def search_path() -> list[Path]:
    """Where the config is looked for without ``--config`` (PRODUCT.md section 5)."""
    paths = []
    if os.environ.get("CALSYNC_CONFIG"):
        paths.append(Path(os.environ["CALSYNC_CONFIG"]))
    paths.append(Path("calsync.toml"))
    paths.append(Path.home() / ".config" / "calsync" / "calsync.toml")
    paths.append(Path("/etc/calsync/calsync.toml"))
    return paths


def find_config(explicit: str | None) -> Path:
    """The config file to use: ``--config``, else the first of :func:`search_path` that exists."""
    if explicit:
        return Path(explicit)
    candidates = search_path()
    if os.environ.get("CALSYNC_CONFIG"):
        return candidates[0]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no configuration file found; looked in "
        + ", ".join(str(c) for c in candidates)
        + " (pass --config FILE or set CALSYNC_CONFIG)"
    )


def _beside(base: Path, path: Path) -> Path:
    """A path from the config, taken relative to the config file's folder, made absolute (the
    state files sessions under it: the same config run from another folder is the same plan);
    ``~`` and environment variables expanded (``password_file = "${CREDENTIALS_DIRECTORY}/dav"``
    under systemd)."""
    return Path(os.path.normpath(base.absolute() / Path(os.path.expandvars(str(path))).expanduser()))


_Located = TypeVar("_Located", SourceConfig, TargetConfig, FeedServerConfig)


_UNSET_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _resolve_paths(item: _Located, base: Path, where: str) -> _Located:
    """Paths of a source or target, taken relative to the config file's folder."""
    updates: dict[str, Path] = {}
    for key in ("path", "password_file", "token_file", "ca_file"):
        value = getattr(item, key, None)
        if isinstance(value, Path):
            updates[key] = _beside(base, value)
            unset = _UNSET_VARIABLE.search(str(updates[key]))
            if unset:
                raise ConfigError(
                    f"{where}.{key}: the environment variable {unset.group(1) or unset.group(2)} in "
                    f"{str(value)!r} is not set (under systemd, CREDENTIALS_DIRECTORY is set for the "
                    "service only: run one-off commands with `systemd-run`, see docs/systemd.md)"
                )
    return replace(item, **updates) if updates else item  # type: ignore[arg-type]


def parse_config(text: str, path: Path) -> Config:
    """Validate the text of a config file; relative paths are taken from the file's folder."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    early: list[tuple[Location, str]] = []
    given = _config_input(raw, early)
    try:
        config = replace(load(Config, given), path=path)
    except SchemaError as err:
        raise ConfigError(f"{path}: {SchemaError(early + err.problems)}") from err
    if early:
        raise ConfigError(f"{path}: {SchemaError(early)}")
    base = path.parent
    plans = []
    for plan in config.plan:
        sources = [
            _resolve_paths(s, base, f"{path}: plan[{plan.id}].source[{i}]") for i, s in enumerate(plan.source)
        ]
        target = _resolve_paths(plan.target, base, f"{path}: plan[{plan.id}].target") if plan.target else None
        plans.append(replace(plan, source=tuple(sources), target=target))
    feeds = _resolve_paths(config.daemon.feeds, base, f"{path}: daemon.feeds")
    return replace(config, plan=tuple(plans), daemon=replace(config.daemon, feeds=feeds))


def _config_input(raw: Mapping[str, Any], problems: list[tuple[Location, str]]) -> dict[str, Any]:
    """The file's tables with the spellings the schema does not read itself
    (:func:`_rules_input`, :func:`_daemon_input`)."""
    config: dict[str, Any] = dict(raw)
    if "daemon" in config:
        config["daemon"] = _daemon_input(config["daemon"])
    plans = config.get("plan")
    if isinstance(plans, list):
        config["plan"] = [
            {**plan, "rules": _rules_input(plan["rules"], problems, ("plan", index, "rules"))}
            if isinstance(plan, Mapping) and "rules" in plan
            else plan
            for index, plan in enumerate(plans)
        ]
    return config


def load_config(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: configuration file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the configuration file: {err}") from err
    return parse_config(text, path)
