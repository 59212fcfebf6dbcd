"""``calsync daemon``: scheduled passes for every plan until SIGTERM (PRODUCT.md section 5, issue 4).

APScheduler runs, per plan, an incremental pass every ``poll_seconds`` (with jitter) and a full
rebuild nightly at ``rebuild_at`` in the plan's zone; a per-plan lock means never two passes of
one plan at once, and missed runs are coalesced into one. A failing plan backs off (1, 2, 4, ...
poll intervals, capped) while the others go on; nothing a server does makes the daemon exit.

Signals: SIGHUP reloads the config (a bad new config is refused and the old one keeps running);
SIGTERM / SIGINT stop scheduling, let the write in flight finish (passes are asked to stop
between writes), save the state and exit 0 within seconds. The process keeps source adapters
between passes, so an idle poll re-parses nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from calsync.config import Config, FeedTarget, PlanConfig, load_config
from calsync.errors import CalsyncError, ConfigError, InterruptedPassError
from calsync.feeds import FeedServer, FileFeeds, all_plans_feed
from calsync.model import PlanResult
from calsync.pipeline import feed_path, run_pass
from calsync.ports import SourceAdapter
from calsync.state import PassRecord, State, now_iso

log = logging.getLogger("calsync.daemon")

STOP_GRACE_SECONDS = 8.0
"""How long SIGTERM waits for a pass to reach its next write boundary before exiting anyway (the
state is transactional and every write idempotent, so even then the next start repairs it)."""


def backoff_seconds(failures: int, poll_seconds: float, cap_seconds: float) -> float:
    """The wait before retrying a plan that failed ``failures`` times in a row: the poll interval,
    doubled per further failure, at most ``cap_seconds``."""
    if failures <= 0:
        return poll_seconds
    return float(min(cap_seconds, poll_seconds * 2 ** min(failures - 1, 30)))


@dataclass
class PlanSlot:
    """What the daemon keeps per plan between passes."""

    config: PlanConfig
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: dict[str, SourceAdapter] = field(default_factory=dict)
    failures: int = 0
    result: PlanResult | None = None

    def poll_seconds(self, default: float) -> float:
        """This plan's poll interval."""
        return self.config.poll_seconds or default


class Daemon:
    """One daemon process serving every plan of one config file."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.slots: dict[str, PlanSlot] = {p.id: PlanSlot(p) for p in config.plan}
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._running: set[str] = set()
        self._running_lock = threading.Condition()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=max(1, min(4, len(config.plan))))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.feeds: FileFeeds | None = None
        self.server: FeedServer | None = None
        self._server_key: tuple[str, int, str | None] | None = None

    # -- set-up ----------------------------------------------------------------------------
    def _feed_paths(self, config: Config) -> dict[str, Path]:
        return {p.id: feed_path(p) for p in config.plan if isinstance(p.target, FeedTarget)}

    def _serve_feeds(self, config: Config) -> None:
        """Start (or re-point, or restart) the feed server for the config's feed targets."""
        paths = self._feed_paths(config)
        settings = config.daemon.feeds
        wanted = bool(paths) or settings.all_plans
        key = (settings.host, settings.port, settings.token()) if wanted else None
        if self.feeds is None:
            self.feeds = FileFeeds(paths)
        else:
            self.feeds.set_paths(paths)
        if not settings.all_plans:
            self.feeds.set_feed("all", None)
        if key == self._server_key:
            return
        if self.server is not None:
            self.server.stop()
            self.server = None
        self._server_key = None
        if key is None:
            return
        server = FeedServer(settings.host, settings.port, token=key[2], lookup=self.feeds)
        try:
            server.start()
        except OSError as err:
            raise CalsyncError(
                f"daemon.feeds: cannot serve feeds on {settings.host}:{settings.port}: "
                f"{err.strerror or err}; is another program using that port? Set [daemon.feeds] port"
            ) from err
        self.server = server
        self._server_key = key

    def _schedule(self, slot: PlanSlot, *, first_in: float = 0.0) -> None:
        plan = slot.config
        daemon = self.config.daemon
        interval = slot.poll_seconds(daemon.poll_seconds)
        self.scheduler.add_job(
            self._pass,
            IntervalTrigger(seconds=interval, jitter=daemon.jitter_seconds or None),
            args=(plan.id, False),
            id=f"poll:{plan.id}",
            name=f"sync {plan.id}",
            next_run_time=datetime.now(UTC) + timedelta(seconds=first_in),
            replace_existing=True,
        )
        if daemon.rebuild_at is not None:
            self.scheduler.add_job(
                self._pass,
                CronTrigger(
                    hour=daemon.rebuild_at.hour,
                    minute=daemon.rebuild_at.minute,
                    timezone=plan.zone,
                    jitter=daemon.jitter_seconds or None,
                ),
                args=(plan.id, True),
                id=f"rebuild:{plan.id}",
                name=f"rebuild {plan.id}",
                replace_existing=True,
            )

    def _unschedule(self, plan_id: str) -> None:
        for job_id in (f"poll:{plan_id}", f"rebuild:{plan_id}"):
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)

    # -- one pass --------------------------------------------------------------------------
    def _pass(self, plan_id: str, full: bool) -> None:
        """One pass of one plan, contained: every failure is logged, backed off, and recorded."""
        slot = self.slots.get(plan_id)
        if slot is None or self.stopping.is_set():
            return
        if not slot.lock.acquire(blocking=full):  # a poll finding a pass running skips its turn
            log.debug("plan %s: a pass is still running; this poll is skipped", plan_id)
            return
        with self._running_lock:
            self._running.add(plan_id)
        try:
            self._run_locked(slot, full)
        finally:
            slot.lock.release()
            with self._running_lock:
                self._running.discard(plan_id)
                self._running_lock.notify_all()

    def _run_locked(self, slot: PlanSlot, full: bool) -> None:
        plan = slot.config
        kind = "rebuild" if full else "sync"
        started = time.monotonic()
        now = datetime.now(plan.zone)
        try:
            with State.open_default() as state:
                try:
                    report = run_pass(
                        plan,
                        now,
                        dry_run=False,
                        force=False,
                        state=state,
                        full=full,
                        adapters=slot.adapters,
                        stop=self.stopping.is_set,
                    )
                except InterruptedPassError as err:
                    log.info("plan %s: %s stopped for shutdown: %s", plan.id, kind, err)
                    return
                except CalsyncError as err:
                    self._failed(slot, state, kind, now, started=started, err=err)
                    return
                except Exception as err:  # a bug must not stop the other plans, nor this one's retries
                    log.exception("plan %s: %s failed with an internal error", plan.id, kind)
                    self._failed(slot, state, kind, now, started=started, err=err)
                    return
                seconds = time.monotonic() - started
                if slot.failures:
                    log.info("plan %s: back to normal after %d failed pass(es)", plan.id, slot.failures)
                    slot.failures = 0
                    self._reschedule_poll(slot)
                slot.result = report.result
                self._refresh_all_plans_feed()
                for note in report.notes:
                    log.info("plan %s: note: %s", plan.id, note)
                log.info("plan %s: %s ok in %.2f s: %s", plan.id, kind, seconds, report.changes())
                state.record_pass(
                    PassRecord(
                        plan.id,
                        now_iso(now),
                        now_iso(datetime.now(plan.zone)),
                        True,
                        f"{kind}: {report.changes()}",
                        requests=report.requests,
                        seconds=round(seconds, 3),
                        next_pass=self._next_pass(plan.id),
                    )
                )
        except CalsyncError as err:  # the state itself cannot be opened or written
            log.error("plan %s: %s failed: %s", plan.id, kind, err)

    def _failed(
        self, slot: PlanSlot, state: State, kind: str, now: datetime, *, started: float, err: BaseException
    ) -> None:
        plan = slot.config
        slot.failures += 1
        slot.adapters.clear()  # start afresh: a broken connection or cache is not kept
        delay = self._reschedule_poll(slot)
        message = (
            str(err) if isinstance(err, CalsyncError) else f"internal error: {type(err).__name__}: {err}"
        ).removeprefix(f"plan {plan.id}: ")
        log.warning(
            "plan %s: %s failed (%d in a row), retrying in %s: %s",
            plan.id,
            kind,
            slot.failures,
            _duration(delay),
            message,
        )
        state.record_pass(
            PassRecord(
                plan.id,
                now_iso(now),
                now_iso(datetime.now(plan.zone)),
                False,
                f"{kind} failed",
                error=message,
                seconds=round(time.monotonic() - started, 3),
                next_pass=self._next_pass(plan.id),
            )
        )

    def _reschedule_poll(self, slot: PlanSlot) -> float:
        """Set the plan's poll interval from its failure count; returns the wait."""
        daemon = self.config.daemon
        interval = slot.poll_seconds(daemon.poll_seconds)
        wait = backoff_seconds(slot.failures, interval, max(interval, daemon.max_backoff_seconds))
        job_id = f"poll:{slot.config.id}"
        if self.scheduler.get_job(job_id) is not None and not self.stopping.is_set():
            jitter = daemon.jitter_seconds or None
            self.scheduler.reschedule_job(job_id, trigger=IntervalTrigger(seconds=wait, jitter=jitter))
        return wait

    def _next_pass(self, plan_id: str) -> str:
        times = [
            job.next_run_time
            for job_id in (f"poll:{plan_id}", f"rebuild:{plan_id}")
            if (job := self.scheduler.get_job(job_id)) is not None and job.next_run_time is not None
        ]
        return (
            min(times).astimezone(self.slots[plan_id].config.zone).isoformat(timespec="seconds")
            if times
            else ""
        )

    def _refresh_all_plans_feed(self) -> None:
        if self.feeds is None or not self.config.daemon.feeds.all_plans:
            return
        results = [s.result for s in self.slots.values() if s.result is not None]
        self.feeds.set_feed("all", all_plans_feed(results, now=datetime.now(UTC)))

    # -- signals and the main loop ---------------------------------------------------------
    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        """SIGTERM / SIGINT: finish the write in flight and exit."""
        log.info("%s received: finishing the write in flight, then stopping", signal.Signals(signum).name)
        self.stopping.set()
        self._wake.set()

    def request_reload(self, _signum: int = signal.SIGHUP, _frame: FrameType | None = None) -> None:
        """SIGHUP: read the config again (in the main loop, not in the handler)."""
        self._reload_requested = True
        self._wake.set()

    def reload(self, load: Callable[[], Config]) -> bool:
        """Apply a new config; a config that does not load is refused and the old one kept."""
        try:
            config = load()
            if config.daemon.feeds.token_env or config.daemon.feeds.token_file:
                config.daemon.feeds.token()  # a missing secret is a bad config too
        except CalsyncError as err:
            log.error("SIGHUP: new config refused, the old one keeps running: %s", err)
            return False
        old = set(self.slots)
        self.config = config
        for plan_id in old - {p.id for p in config.plan}:
            self._unschedule(plan_id)
            self.slots.pop(plan_id, None)
        for plan in config.plan:
            slot = self.slots.get(plan.id)
            if slot is None:
                self.slots[plan.id] = slot = PlanSlot(plan)
            else:
                slot.config = plan
                slot.adapters.clear()
                slot.failures = 0
            self._schedule(slot)
        try:
            self._serve_feeds(config)
        except CalsyncError as err:
            log.error("SIGHUP: %s (feeds not served until the next reload)", err)
        log.info("SIGHUP: config reloaded: %d plan(s)", len(config.plan))
        return True

    def run(self, load: Callable[[], Config]) -> int:
        """Serve until SIGTERM / SIGINT; returns the exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        self._serve_feeds(self.config)
        self.scheduler.start()
        plans = list(self.slots.values())
        for index, slot in enumerate(plans):  # spread the first passes of many plans a little
            self._schedule(slot, first_in=min(index * 0.2, 30.0))
        log.info(
            "calsync daemon started (pid %d): %d plan(s), poll every %s, nightly rebuild %s",
            os.getpid(),
            len(plans),
            _duration(self.config.daemon.poll_seconds),
            f"{self.config.daemon.rebuild_at:%H:%M}" if self.config.daemon.rebuild_at else "off",
        )
        while not self.stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._reload_requested and not self.stopping.is_set():
                self._reload_requested = False
                self.reload(load)
        return self._shutdown()

    def _shutdown(self) -> int:
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        with self._running_lock:
            while self._running and time.monotonic() < deadline:
                self._running_lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = sorted(self._running)
        if self.server is not None:
            self.server.stop()
        if unfinished:
            log.warning(
                "stopping with pass(es) of %s still waiting on the network; the next start repairs them",
                ", ".join(unfinished),
            )
        log.info("calsync daemon stopped")
        logging.shutdown()
        if unfinished:
            os._exit(0)  # the pool's threads would otherwise hold the exit until their timeouts
        return 0


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def run_daemon(config: Config) -> int:
    """``calsync daemon``: checks what the config needs at start (a missing secret or target is a
    ConfigError: exit 2), then serves until SIGTERM, reloading ``config.path`` on SIGHUP."""
    if config.daemon.feeds.token_env or config.daemon.feeds.token_file:
        config.daemon.feeds.token()
    for plan in config.plan:
        if plan.target is None:
            raise ConfigError(
                f"{config.path}: plan {plan.id} has no [plan.target]; the daemon needs one for every plan"
            )
    path = config.path
    return Daemon(config).run(lambda: load_config(path))
