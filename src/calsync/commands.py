"""What each command does, once the command line is read (``cli.py`` parses it first, so
``calsync --help`` loads none of this: the config model, the pipeline, the calendar libraries)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from calsync import logs
from calsync.config import Config, PlanConfig
from calsync.core.decide import dismissed_sessions
from calsync.core.model import PlanResult
from calsync.core.reconcile import describe_action
from calsync.errors import CalsyncError, ConfigError
from calsync.output import dumps_plan_json, plan_table
from calsync.pipeline import (
    known_written,
    make_plan,
    pass_record,
    read_sources,
    run_pass,
    window_for,
)
from calsync.registry import KEPT_FILE_PREFIXES, kept_file_keys, target_for
from calsync.state import PassRecord, State, StateError, default_state_dir

log = logging.getLogger("calsync")


def _now(text: str | None, config: PlanConfig) -> datetime:
    """``--now`` in the plan's zone (a time without offset is local to the plan), else the clock."""
    if text is None:
        return datetime.now(config.zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise ConfigError(
            f"--now {text!r} is not an ISO 8601 date or date-time, e.g. 2026-11-27T07:30+01:00"
        ) from err
    if not 1971 <= moment.year <= 2999:
        raise ConfigError(f"--now {text!r}: give a moment between the years 1971 and 2999")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.zone)
    return moment.astimezone(config.zone)


def _plans(config: Config, plan_id: str | None) -> list[PlanConfig]:
    return [config.find_plan(plan_id)] if plan_id else list(config.plan)


@contextlib.contextmanager
def _state_to_read() -> Iterator[State | None]:
    """The state opened read-only for a command that writes nothing (``plan``); None when there
    is none yet or it cannot be read (the plan then shows sessions a person deleted)."""
    path = default_state_dir() / "state.sqlite"
    if not path.is_file():
        yield None
        return
    try:
        state = State(path, readonly=True)
    except StateError as err:
        log.warning("planning without the state: %s", err)
        yield None
        return
    with state:
        yield state


def cmd_plan(args: argparse.Namespace, config: Config) -> int:
    """Read the sources and print the plan; writes nothing."""
    results: list[PlanResult] = []
    plans = _plans(config, args.plan)
    generated = _now(args.now, plans[0])
    with _state_to_read() as state:
        for plan_config in plans:
            now = generated.astimezone(plan_config.zone)
            target = target_for(plan_config, now=now)
            owned = []
            if target is not None:
                try:
                    owned = target.list_owned()
                finally:
                    target.close()
            known = known_written(state, plan_config, may_write=False) if state is not None else {}
            dismissed, _ = dismissed_sessions(known, owned, now=now)
            result, _ = make_plan(plan_config, now, owned, frozenset(dismissed))
            results.append(result)
    if args.format == "json":
        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(dumps_plan_json(results, generated_at=generated, indent=indent) + "\n")
    else:
        sys.stdout.write(plan_table(results, now=generated, color=sys.stdout.isatty()))
    return 0


def cmd_rebuild(args: argparse.Namespace, config: Config) -> int:
    """One pass for every plan (``rebuild``: full; ``sync``: the daemon's tick); a plan that fails
    does not stop the others."""
    status = 0
    force = getattr(args, "force", False)
    with State.open_default() as state:
        for plan_config in _plans(config, args.plan):
            now = _now(args.now, plan_config)
            started = time.monotonic()
            try:
                report = run_pass(
                    plan_config,
                    now,
                    dry_run=args.dry_run,
                    force=force,
                    state=None if args.dry_run else state,
                    full=args.command == "rebuild",
                )
            except ConfigError:
                raise
            except CalsyncError as err:
                report_error(err, args.verbose)
                status = max(status, err.exit_code)
                if not args.dry_run:
                    state.record_pass(
                        pass_record(plan_config, now, started, "failed", ok=False, error=str(err))
                    )
                continue
            if args.dry_run:
                for action in report.actions:
                    print(f"  {describe_action(action)}")
            for note in report.notes:
                print(f"  note: {note}")
            print(report.summary())
            if not args.dry_run:
                state.record_pass(
                    pass_record(plan_config, now, started, report.summary(), requests=report.requests)
                )
        if not args.dry_run and not args.plan:  # every plan ran: what no plan uses can go
            state.forget_kept(KEPT_FILE_PREFIXES, kept_file_keys(config.plan))
    return status


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """When each plan last synced, what it did, what failed (reads the state, changes nothing).
    ``--format json`` prints one object for scripts: exit 0, or 1 when a plan's last pass failed."""
    if getattr(args, "format", "text") == "json":
        return _status_json(args, config)
    with State.open_default(readonly=True) as state:
        for plan_config in _plans(config, args.plan):
            record = state.last_pass(plan_config.id)
            if record is None:
                print(f"{plan_config.id}: no pass yet (run `calsync rebuild`)")
                continue
            result = "ok" if record.ok else f"FAILED: {record.error}"
            print(f"{plan_config.id}: last pass {record.started} ({record.seconds:.2f} s) {result}")
            if record.ok:
                print(f"  {record.summary}")
            if record.consecutive_failures:
                print(f"  consecutive failures: {record.consecutive_failures}")
            if record.daemon_pid:
                print(f"  {_daemon_line(record)}")
        print(f"state: {state.path}")
    return 0


def cmd_daemon(args: argparse.Namespace, config: Config) -> int:
    """Run the scheduled passes until SIGTERM."""
    from calsync.daemon import run_daemon  # noqa: PLC0415 - only the daemon needs the scheduler

    return run_daemon(config, args.early_signals)


def _status_json(args: argparse.Namespace, config: Config) -> int:
    plans: list[dict[str, object]] = []
    with State.open_default(readonly=True) as state:
        for plan_config in _plans(config, args.plan):
            record = state.last_pass(plan_config.id)
            entry: dict[str, object] = {"plan": plan_config.id, "ok": None, "last_pass": None, "daemon": None}
            if record is not None:
                entry["ok"] = record.ok
                entry["last_pass"] = {
                    "started": record.started,
                    "finished": record.finished,
                    "ok": record.ok,
                    "summary": record.summary,
                    "error": logs.mask(record.error),
                    "requests": record.requests,
                    "seconds": record.seconds,
                    "consecutive_failures": record.consecutive_failures,
                }
                if record.daemon_pid:
                    entry["daemon"] = {
                        "pid": record.daemon_pid,
                        "running": _running(record.daemon_pid),
                        "poll_seconds": record.poll_seconds,
                        "next_pass": record.next_pass or None,
                    }
            plans.append(entry)
        body = {"state": str(state.path), "plans": plans}
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 1 if any(p["ok"] is False for p in plans) else 0


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:  # someone else's process (the service's user): it runs
        return True
    except OSError:
        return False
    return True


def _daemon_line(record: PassRecord) -> str:
    """What ``status`` says of the daemon that recorded a pass."""
    running = _running(record.daemon_pid)
    if not running:
        return f"daemon (pid {record.daemon_pid}) not running: no pass is scheduled"
    every = f"polls every {record.poll_seconds:g} s" if record.poll_seconds else "running"
    upcoming = record.next_pass
    if upcoming and datetime.fromisoformat(upcoming) < datetime.now(UTC):
        upcoming = "due (idle passes are recorded every 10 min)"
    return f"daemon (pid {record.daemon_pid}) {every}; next pass (daemon): {upcoming or 'not scheduled'}"


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    """Validate the config and reach every source and target, read-only."""
    status = 0
    for plan_config in _plans(config, args.plan):
        now = _now(args.now, plan_config)
        try:
            read = read_sources(plan_config, window_for(plan_config, now))
            print(f"{plan_config.id}: sources ok, {len(read.events)} events in the window")
            for warning in read.warnings:
                print(f"  warning: {warning.message}")
            target = target_for(plan_config, now=now)
            if target is not None:
                try:
                    owned = target.list_owned()
                finally:
                    target.close()
                where = target.label
                print(f"{plan_config.id}: target ok, {len(owned)} events owned by calsync in {where}")
        except CalsyncError as err:
            report_error(err, args.verbose)
            status = max(status, err.exit_code)
    print(f"config ok: {config.path}" if status == 0 else f"check failed: {config.path}")
    return status


def report_error(err: BaseException, verbose: bool) -> None:
    """One line on stderr (secrets masked); the traceback too with ``-v``."""
    if verbose:
        log.exception("%s", err)
    print(f"calsync: {logs.mask(str(err))}", file=sys.stderr)


COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "plan": cmd_plan,
    "rebuild": cmd_rebuild,
    "sync": cmd_rebuild,
    "status": cmd_status,
    "daemon": cmd_daemon,
    "check": cmd_check,
}
