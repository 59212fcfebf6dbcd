"""The registry: the only code that knows the kinds of sources and targets.

It builds a plan's adapters from its config (each handed its scoped store), and names what the
state keeps per plan and per calendar. A new kind is one config model, one adapter and a branch
in the functions here; nothing else branches on kinds.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from calsync.adapters.ics_file import IcsFileReader
from calsync.config import (
    CaldavSource,
    CaldavTarget,
    FeedTarget,
    HomeAssistantSource,
    HomeAssistantTarget,
    IcsFileSource,
    IcsFileTarget,  # the config's; the adapter of the same name is imported where it is used
    IcsUrlSource,
    PlanConfig,
    SourceConfig,
)
from calsync.core.model import PlanResult
from calsync.errors import CalsyncError, SourceError, TargetError
from calsync.ports import CalendarTarget, SourceAdapter
from calsync.redact import collection_url, without_credentials
from calsync.state import ScopedStore, State, default_state_dir

if TYPE_CHECKING:  # the CalDAV adapter is imported only by plans that use CalDAV
    from calsync.adapters.caldav import CaldavClient


def _client(
    remote: CaldavSource | CaldavTarget, *, where: str, name: str, error: type[CalsyncError]
) -> CaldavClient:
    """A CalDAV client for a configured calendar; the password is read now, never stored."""
    from calsync.adapters.caldav import CaldavClient  # noqa: PLC0415 - only plans using CalDAV pay for it

    return CaldavClient(
        remote.url,
        username=remote.username,
        password=remote.password(where),
        timeout=remote.timeout_seconds,
        verify=remote.verify_tls,
        ca_file=str(remote.ca_file) if remote.ca_file else None,
        error=error,
        name=name,
    )


def caldav_reader(source: CaldavSource, *, name: str, where: str) -> SourceAdapter:
    """A ``caldav`` source's adapter (its module is imported only now)."""
    from calsync.adapters.caldav import CaldavReader  # noqa: PLC0415

    return CaldavReader(name, client=lambda: _client(source, where=where, name=name, error=SourceError))


def source_for(config: PlanConfig, index: int) -> SourceAdapter:
    """The adapter of a plan's ``index``-th source."""
    source = config.source[index]
    where = f"plan[{config.id}].source[{index}]"
    name = f"plan {config.id}: source {getattr(source, 'name', None) or index + 1}"
    if isinstance(source, CaldavSource):
        return caldav_reader(source, name=name, where=where)
    if isinstance(source, IcsUrlSource):
        from calsync.adapters.ics_url import IcsUrlReader  # noqa: PLC0415

        return IcsUrlReader(source, name=name, where=where)
    if isinstance(source, HomeAssistantSource):
        from calsync.adapters.homeassistant import HaCalendarSource  # noqa: PLC0415

        return HaCalendarSource(source, name=name, where=where)
    return IcsFileReader(source.path, source.name or f"{config.id}: source {index + 1} ({source.path.name})")


def source_key(source: SourceConfig, plan_id: str = "") -> str | None:
    """What the state files a source's sync token / ETag and objects under (None: it keeps
    nothing there). One per calendar, shared by every plan that reads it; a local file's kept
    read is the plan's own (plans read it with their own windows and zones)."""
    if isinstance(source, CaldavSource):
        return "source:" + collection_url(source.url)
    if isinstance(source, IcsUrlSource):
        return "source:" + without_credentials(source.http_url)
    if isinstance(source, IcsFileSource):
        return f"source:file:{source.path}#{plan_id}"
    return None


KEPT_FILE_PREFIXES = ("source:file:", "target:file:")
"""The state keys of local files' kept reads and listings (see :func:`kept_file_keys`)."""


def kept_file_keys(plans: tuple[PlanConfig, ...] | list[PlanConfig]) -> set[str]:
    """The state keys the plans' local files keep their reads and listings under: any other key
    with a :data:`KEPT_FILE_PREFIXES` prefix belongs to a file no plan uses any more."""
    keys = {
        key
        for plan in plans
        for source in plan.source
        if (key := source_key(source, plan.id)) and key.startswith(KEPT_FILE_PREFIXES)
    }
    keys |= {_target_file_key(plan) for plan in plans if isinstance(plan.target, IcsFileTarget | FeedTarget)}
    return keys


def _target_file_key(config: PlanConfig) -> str:
    path = feed_path(config) if isinstance(config.target, FeedTarget) else config.target.path  # type: ignore[union-attr]
    return f"target:file:{path}#{config.id}"


def feed_path(config: PlanConfig) -> Path:
    """Where a ``feed`` target keeps its calendar (``<state dir>/feeds/<plan>.ics`` by default)."""
    target = config.target
    if isinstance(target, FeedTarget) and target.path is not None:
        return target.path
    return default_state_dir() / "feeds" / f"{config.id}.ics"


def target_for(
    config: PlanConfig, state: State | None = None, *, full: bool = False, now: datetime | None = None
) -> CalendarTarget | None:
    """The target adapter of a plan, if it has one (a CalDAV one resumes from its store, unless
    ``full``; a Home Assistant one lists around ``now`` over the plan's horizon)."""
    target = config.target
    if target is None:
        return None
    if isinstance(target, CaldavTarget):
        client = _client(
            target, where=f"plan[{config.id}].target", name=f"plan {config.id}: target", error=TargetError
        )
        from calsync.adapters.caldav import CaldavTarget as CaldavTarget_  # noqa: PLC0415

        store = ScopedStore(state, f"target:{client.url}") if state is not None else None
        return CaldavTarget_(client, config.id, config.zone, store=store, resume=not full)
    if isinstance(target, HomeAssistantTarget):
        from calsync.adapters.homeassistant import HaCalendarTarget  # noqa: PLC0415

        return HaCalendarTarget(
            target,
            config.id,
            config.zone,
            where=f"plan[{config.id}].target",
            horizon_weeks=config.horizon_weeks,
            now=now,
        )
    from calsync.adapters.ics_target import IcsFileTarget as IcsFileAdapter  # noqa: PLC0415 - icalendar

    path = feed_path(config) if isinstance(target, FeedTarget) else target.path
    store = ScopedStore(state, _target_file_key(config)) if state is not None else None
    # a feed's file: only calsync reads it
    return IcsFileAdapter(path, config.id, config.zone, private=isinstance(target, FeedTarget), store=store)


class Publisher(Protocol):
    """What a target shows besides its events (Home Assistant's sensors)."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""

    def publish(self, result: PlanResult, now: datetime) -> None:
        """Show the plan's state; raises TargetError when it cannot."""

    def close(self) -> None:
        """Release connections."""


def publisher_for(config: PlanConfig, state: State | None = None) -> Publisher | None:
    """The publisher of a plan's target, when its kind has one."""
    target = config.target
    if not isinstance(target, HomeAssistantTarget) or not target.sensors:
        return None
    from calsync.adapters.homeassistant import HaSensorPublisher  # noqa: PLC0415

    key = f"sensors:{target.url.rstrip('/')}#{config.id}"
    store = ScopedStore(state, key) if state is not None else None
    return HaSensorPublisher(target, config.id, where=f"plan[{config.id}].target", store=store)


def legacy_state_key(config: PlanConfig) -> str | None:
    """The key calsync before 0.2 filed a file target's sessions under: its path as the config
    named it, relative to the folder calsync ran in when the config's path was relative (the
    same config run from two folders had two keys); None when it cannot differ."""
    target = config.target
    if not isinstance(target, IcsFileTarget | FeedTarget) or not (path := target.path):
        return None
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return None
    key = f"{config.id}@{relative}"
    return key if key != state_key(config) else None


def state_key(config: PlanConfig) -> str:
    """What the state files a plan's written sessions under: the plan and its target, so pointing
    a plan at another target starts that target afresh."""
    target = config.target
    if target is None:
        where = "-"
    elif isinstance(target, CaldavTarget):
        where = target.url
    elif isinstance(target, HomeAssistantTarget):
        where = f"{target.url.rstrip('/')}#{target.entity_id}"
    elif isinstance(target, FeedTarget):
        where = str(feed_path(config))
    else:
        where = str(target.path)
    return f"{config.id}@{where}"
