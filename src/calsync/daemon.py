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
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from calsync.config import Config, FeedTarget, PlanConfig, load_config
from calsync.core.model import PlanResult
from calsync.errors import CalsyncError, ConfigError, InterruptedPassError
from calsync.feeds import FeedServer, FileFeeds, all_plans_feed
from calsync.logs import mask
from calsync.pipeline import pass_record, run_pass
from calsync.ports import SourceAdapter
from calsync.registry import KEPT_FILE_PREFIXES, feed_path, kept_file_keys
from calsync.state import PassRecord, State

log = logging.getLogger("calsync.daemon")

HEARTBEAT_SECONDS = 600.0
"""An idle pass whose outcome did not change is recorded in the state at most this often (so an
idle daemon writes nothing to disk between: SD cards last longer)."""
WAKE_SECONDS = 60.0
"""The scheduler wakes at least this often: its timers run on a clock that stops during a
laptop's suspend, so a pass due meanwhile starts at most this long after resume."""
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
    lock: threading.Lock
    """Shared by every pass of this plan id, across reloads: never two passes of one plan."""
    adapters: dict[str, SourceAdapter] = field(default_factory=dict)
    failures: int = 0
    result: PlanResult | None = None
    rebuild_pending: bool = False
    """A nightly rebuild came while a pass ran: it runs right after that pass."""
    recorded: tuple[bool, str, str] | None = None
    recorded_at: float = 0.0
    good_pass: bool = False
    """A pass of this plan succeeded since the daemon started."""
    last_error: str = ""
    """Why the last pass failed (empty: it did not)."""

    def poll_seconds(self, default: float) -> float:
        """This plan's poll interval."""
        return self.config.poll_seconds or default


def check_for_daemon(config: Config) -> None:
    """What the daemon needs that a one-off command may not: a target for every plan and every
    secret readable now (else a plan would only fail, pass after pass). Raises ConfigError."""
    for plan in config.plan:
        if plan.target is None:
            raise ConfigError(
                f"{config.path}: plan {plan.id} has no [plan.target]; the daemon needs one for every plan"
            )
        for index, source in enumerate(plan.source):
            _read_secrets(source, f"{config.path}: plan[{plan.id}].source[{index}]")
        _read_secrets(plan.target, f"{config.path}: plan[{plan.id}].target")
    if config.daemon.feeds.token_env or config.daemon.feeds.token_file:
        config.daemon.feeds.token()


def _read_secrets(item: object, where: str) -> None:
    for reader in ("password", "token"):
        method = getattr(item, reader, None)
        if callable(method):
            method(where)


class Daemon:
    """One daemon process serving every plan of one config file."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._locks: dict[str, threading.Lock] = {}
        self.slots: dict[str, PlanSlot] = {p.id: self._slot(p) for p in config.plan}
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._signals: list[int] = []
        self._running = 0
        self._running_lock = threading.Condition()
        self._feed_lock = threading.Lock()
        self._states = threading.local()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=max(1, min(4, len(config.plan))))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.feeds: FileFeeds | None = None
        self.server: FeedServer | None = None
        self._server_key: tuple[str, int, str | None] | None = None

    def _slot(self, plan: PlanConfig) -> PlanSlot:
        return PlanSlot(plan, self._locks.setdefault(plan.id, threading.Lock()))

    # -- set-up ----------------------------------------------------------------------------
    def _feed_paths(self, config: Config) -> dict[str, Path]:
        return {p.id: feed_path(p) for p in config.plan if isinstance(p.target, FeedTarget)}

    def _serve_feeds(self, config: Config) -> None:
        """Start, re-point or move the feed server for the config's feed targets. Moving to a
        port that cannot be had keeps the old server running (and raises)."""
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
        else:
            self.feeds.expect("all")  # 503 until the first pass, not an empty calendar
        if key == self._server_key:
            return
        old = self.server
        if key is None:
            if old is not None:
                old.stop()
            self.server, self._server_key = None, None
            return
        same_address = self._server_key is not None and self._server_key[:2] == key[:2]
        if old is not None and same_address:
            old.stop()  # the same address: the old server must let go of it first
        server = FeedServer(settings.host, settings.port, token=key[2], lookup=self.feeds, health=self.health)
        try:
            server.start()
        except OSError as err:
            if old is not None and same_address:
                self.server, self._server_key = None, None
            raise CalsyncError(
                f"daemon.feeds: cannot serve feeds on {settings.host}:{settings.port}: "
                f"{err.strerror or err}; is another program using that port? Set [daemon.feeds] port"
            ) from err
        if old is not None and not same_address:
            old.stop()
        self.server, self._server_key = server, key

    def health(self) -> tuple[int, str]:
        """``/healthz``: 503 while any plan's last pass failed, with a line per plan."""
        lines = []
        failing = False
        for plan_id, slot in sorted(self.slots.items()):
            if slot.failures:
                failing = True
                lines.append(f"plan {plan_id}: failing ({slot.failures} in a row): {slot.last_error}")
            elif slot.good_pass:
                lines.append(f"plan {plan_id}: ok")
            else:
                lines.append(f"plan {plan_id}: starting (no pass yet)")
        head = "failing" if failing else "ok"
        return (503 if failing else 200), "\n".join([head, *lines]) + "\n"

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
        if daemon.rebuild_at is None:
            if self.scheduler.get_job(f"rebuild:{plan.id}") is not None:
                self.scheduler.remove_job(f"rebuild:{plan.id}")
            return
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

    def _state(self) -> State:
        """This worker thread's connection to the state, kept for the daemon's life (opening and
        closing per pass would checkpoint and delete the WAL each time)."""
        state: State | None = getattr(self._states, "state", None)
        if state is None:
            state = State.open_default()  # closed with the process (SQLite: only by its thread)
            self._states.state = state
        return state

    # -- one pass --------------------------------------------------------------------------
    def _pass(self, plan_id: str, full: bool) -> None:
        """One pass of one plan, contained: every failure is logged, backed off, and recorded."""
        slot = self.slots.get(plan_id)
        if slot is None or self.stopping.is_set():
            return
        if not slot.lock.acquire(blocking=False):
            if full:  # never hold a worker waiting: the running pass starts the rebuild after it
                slot.rebuild_pending = True
            log.debug(
                "plan %s: a pass is still running; this %s waits for it",
                plan_id,
                "rebuild" if full else "poll",
            )
            return
        with self._running_lock:
            self._running += 1
        run_full, slot.rebuild_pending = full or slot.rebuild_pending, False
        try:
            if not self.stopping.is_set():
                self._run_locked(slot, run_full)
        finally:
            with self._running_lock:
                self._running -= 1
                self._running_lock.notify_all()
            slot.lock.release()
        if slot.rebuild_pending and not self.stopping.is_set():
            slot.rebuild_pending = False
            self.scheduler.add_job(
                self._pass, args=(plan_id, True), id=f"rebuild-now:{plan_id}", replace_existing=True
            )

    def _run_locked(self, slot: PlanSlot, full: bool) -> None:
        plan = slot.config
        kind = "rebuild" if full else "sync"
        started = time.monotonic()
        now = datetime.now(plan.zone)
        state: State | None = None
        try:
            state = self._state()
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
            log.info("plan %s: %s stopped for shutdown: %s", plan.id, kind, _without_plan(err, plan.id))
            return
        except CalsyncError as err:
            self._failed(slot, state, kind, now, started=started, err=err)
            return
        except Exception as err:  # a bug must not stop the other plans, nor this one's retries
            log.exception("plan %s: %s failed with an internal error", plan.id, kind)
            self._failed(slot, state, kind, now, started=started, err=err)
            return
        seconds = time.monotonic() - started
        slot.good_pass, slot.last_error = True, ""
        if slot.failures:
            log.info("plan %s: back to normal after %d failed pass(es)", plan.id, slot.failures)
            slot.failures = 0
            self._reschedule_poll(slot)
        if report.result != slot.result:  # an idle pass plans the same: the feed stays as it is
            slot.result = report.result
            self._refresh_all_plans_feed()
        for note in report.notes:
            log.info("plan %s: note: %s", plan.id, note)
        log.info("plan %s: %s ok in %.2f s: %s", plan.id, kind, seconds, report.changes())
        outcome = (True, report.changes() if report.actions else "idle", "")
        if outcome == slot.recorded and time.monotonic() - slot.recorded_at < HEARTBEAT_SECONDS:
            return  # an idle pass like the last one: nothing new to record
        self._record(
            slot,
            state,
            pass_record(plan, now, started, f"{kind}: {report.changes()}", requests=report.requests),
            outcome,
        )

    def _record(
        self, slot: PlanSlot, state: State, record: PassRecord, outcome: tuple[bool, str, str]
    ) -> int:
        """Store a pass for ``calsync status``; returns the consecutive failures recorded."""
        plan_id = slot.config.id
        record = replace(
            record,
            next_pass=self._next_pass(plan_id),
            daemon_pid=os.getpid(),
            poll_seconds=slot.poll_seconds(self.config.daemon.poll_seconds),
        )
        try:
            stored = state.record_pass(record)
        except CalsyncError as err:
            log.error("plan %s: cannot record the pass: %s", plan_id, err)
            return slot.failures
        slot.recorded, slot.recorded_at = outcome, time.monotonic()
        return stored.consecutive_failures

    def _failed(
        self,
        slot: PlanSlot,
        state: State | None,
        kind: str,
        now: datetime,
        *,
        started: float,
        err: BaseException,
    ) -> None:
        plan = slot.config
        slot.failures += 1
        slot.adapters = {}  # start afresh: a broken connection or cache is not kept
        delay = self._reschedule_poll(slot)
        message = mask(
            str(err) if isinstance(err, CalsyncError) else f"internal error: {type(err).__name__}: {err}"
        ).removeprefix(f"plan {plan.id}: ")
        slot.last_error = message
        in_a_row = slot.failures
        if state is not None:
            record = pass_record(plan, now, started, f"{kind} failed", ok=False, error=message)
            in_a_row = self._record(slot, state, record, (False, "", message))
        log.warning(
            "plan %s: %s failed (%d in a row), retrying in %s: %s",
            plan.id,
            kind,
            in_a_row,
            _duration(delay),
            message,
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
        zone = self.slots[plan_id].config.zone
        return min(times).astimezone(zone).isoformat(timespec="seconds") if times else ""

    def _refresh_all_plans_feed(self) -> None:
        if self.feeds is None or not self.config.daemon.feeds.all_plans:
            return
        with self._feed_lock:
            results = [s.result for s in self.slots.values() if s.result is not None]
            self.feeds.set_feed("all", all_plans_feed(results, now=datetime.now(UTC)))

    # -- signals and the main loop ---------------------------------------------------------
    def on_signal(self, signum: int, _frame: FrameType | None = None) -> None:
        """Signal handler: only notes the signal (the main loop acts on it). A second SIGTERM
        or SIGINT while stopping exits at once."""
        if signum != signal.SIGHUP and self.stopping.is_set():
            os.write(2, b"calsync: second stop signal: exiting now\n")
            os._exit(0)
        if signum != signal.SIGHUP:
            self.stopping.set()
        self._signals.append(signum)
        self._wake.set()

    def reload(self, load: Callable[[], Config]) -> bool:
        """Apply a new config; a config that does not load, or lacks a target or a secret, is
        refused and the old one kept. Plans whose config did not change are left alone."""
        try:
            config = load()
            check_for_daemon(config)
        except CalsyncError as err:
            log.error("SIGHUP: new config refused, the old one keeps running: %s", err)
            return False
        except Exception:  # a bug reading a file must not stop the daemon: the old config runs on
            log.exception("SIGHUP: new config refused (internal error), the old one keeps running")
            return False
        schedule_changed = config.daemon != self.config.daemon
        self.config = config
        for plan_id in set(self.slots) - {p.id for p in config.plan}:
            self._unschedule(plan_id)
            self.slots.pop(plan_id, None)
        changed = 0
        for plan in config.plan:
            slot = self.slots.get(plan.id)
            if slot is not None and slot.config == plan and not schedule_changed:
                continue
            changed += 1
            if slot is None:
                self.slots[plan.id] = slot = self._slot(plan)
            else:
                slot.config = plan
                slot.adapters = {}  # a pass still running fills the old dict, which nobody reads
                slot.failures = 0
            self._schedule(slot)
        try:
            self._serve_feeds(config)
        except CalsyncError as err:
            log.error("SIGHUP: %s (feeds are served as before)", err)
        if any(slot.result is not None for slot in self.slots.values()):
            self._refresh_all_plans_feed()  # turned on or changed: from the plans' last passes now
        try:
            self._state().forget_kept(KEPT_FILE_PREFIXES, kept_file_keys(config.plan))
        except CalsyncError as err:
            log.warning("SIGHUP: %s", err)
        log.info("SIGHUP: config reloaded: %d plan(s), %d changed", len(config.plan), changed)
        return True

    def run(self, load: Callable[[], Config], early_signals: Sequence[int] = ()) -> int:
        """Serve until SIGTERM / SIGINT; returns the exit code. ``early_signals`` are those that
        came before the handlers were in place (while the config loaded)."""
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, self.on_signal)
        for early in early_signals:
            self.on_signal(early)
        if self.stopping.is_set():
            log.info("stop signal before the daemon started: exiting")
            return 0
        state = self._state()  # fails here (exit 1) when the state folder is unusable
        state.forget_kept(KEPT_FILE_PREFIXES, kept_file_keys(self.config.plan))
        self._serve_feeds(self.config)
        self.scheduler.start()
        self.scheduler.add_job(_keep_awake, IntervalTrigger(seconds=WAKE_SECONDS), id="wake")
        plans = list(self.slots.values())
        for index, slot in enumerate(plans):  # spread the first passes of many plans a little
            self._schedule(slot, first_in=min(index * 0.2, 30.0))
        log.info(
            "calsync daemon started (pid %d): %d plan(s), poll every %s, nightly rebuild %s%s",
            os.getpid(),
            len(plans),
            _duration(self.config.daemon.poll_seconds),
            f"{self.config.daemon.rebuild_at:%H:%M}" if self.config.daemon.rebuild_at else "off",
            f", feeds on {self.server.listen_url}" if self.server is not None else "",
        )
        notify_systemd("READY=1")
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._signals:
                received = self._signals.pop(0)
                if received == signal.SIGHUP and not self.stopping.is_set():
                    notify_systemd(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
                    self.reload(load)
                    notify_systemd("READY=1")
                elif received != signal.SIGHUP:
                    log.info(
                        "%s received: finishing the write in flight, then stopping",
                        signal.Signals(received).name,
                    )
            if self.stopping.is_set():
                return self._shutdown()

    def _shutdown(self) -> int:
        notify_systemd("STOPPING=1")
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        with self._running_lock:
            while self._running and time.monotonic() < deadline:
                self._running_lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = self._running
        if self.server is not None:
            self.server.stop()
        if unfinished:
            log.warning(
                "stopping with %d pass(es) still waiting on the network; the next start repairs them",
                unfinished,
            )
        log.info("calsync daemon stopped")
        logging.shutdown()
        if unfinished:
            os._exit(0)  # the pool's threads would otherwise hold the exit until their timeouts
        return 0


def _keep_awake() -> None:
    """Nothing: its schedule makes the scheduler look at the wall clock at least every minute."""


def _without_plan(err: BaseException, plan_id: str) -> str:
    return str(err).removeprefix(f"plan {plan_id}: ")


def notify_systemd(message: str) -> None:
    """Tell systemd (``Type=notify``) about the daemon's state; nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.debug("cannot notify systemd: %s", err)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def run_daemon(config: Config, early_signals: Sequence[int] = ()) -> int:
    """``calsync daemon``: checks what the config needs at start (a missing secret or target is a
    ConfigError: exit 2), then serves until SIGTERM, reloading ``config.path`` on SIGHUP."""
    check_for_daemon(config)
    path = config.path
    return Daemon(config).run(lambda: load_config(path), early_signals)
