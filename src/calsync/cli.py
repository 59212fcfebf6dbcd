"""The command line (PRODUCT.md section 5): ``calsync [--config FILE] COMMAND``.

Exit codes: 0 done; 1 a source or target failed (nothing was lost); 2 bad config or usage.
Errors are one line naming the plan, the source or target and what to do; ``-v`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from calsync import __version__, logs
from calsync.config import Config, PlanConfig, find_config, load_config
from calsync.core.decide import dismissed_sessions
from calsync.core.model import PlanResult
from calsync.core.reconcile import describe_action
from calsync.errors import CalsyncError, ConfigError
from calsync.output import dumps_plan_json, plan_table
from calsync.pipeline import (
    make_plan,
    pass_record,
    read_sources,
    run_pass,
    window_for,
)
from calsync.registry import state_key, target_for
from calsync.state import PassRecord, State

log = logging.getLogger("calsync")


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"calsync: {message} (see `calsync --help`)\n")


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


def cmd_plan(args: argparse.Namespace, config: Config) -> int:
    """Read the sources and print the plan; writes nothing."""
    results: list[PlanResult] = []
    plans = _plans(config, args.plan)
    generated = _now(args.now, plans[0])
    with State.open_default() as state:
        for plan_config in plans:
            now = generated.astimezone(plan_config.zone)
            target = target_for(plan_config, now=now)
            owned = []
            if target is not None:
                try:
                    owned = target.list_owned()
                finally:
                    target.close()
            dismissed, _ = dismissed_sessions(state.written(state_key(plan_config)), owned, now=now)
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
                _error(err, args.verbose)
                status = max(status, err.exit_code)
                if not args.dry_run:
                    state.record_pass(pass_record(plan_config, now, started, "failed", error=str(err)))
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
    return status


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """When each plan last synced, what it did, what failed (reads the state, changes nothing)."""
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


def _daemon_line(record: PassRecord) -> str:
    """What ``status`` says of the daemon that recorded a pass."""
    try:
        os.kill(record.daemon_pid, 0)
        running = True
    except PermissionError:  # someone else's process (the service's user): it runs
        running = True
    except OSError:
        running = False
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
            _error(err, args.verbose)
            status = max(status, err.exit_code)
    print(f"config ok: {config.path}" if status == 0 else f"check failed: {config.path}")
    return status


def _error(err: BaseException, verbose: bool) -> None:
    if verbose:
        log.exception("%s", err)
    print(f"calsync: {logs.mask(str(err))}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = _Parser(prog="calsync", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $CALSYNC_CONFIG, "
        "./calsync.toml, ~/.config/calsync/calsync.toml, /etc/calsync/calsync.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    parser.add_argument("--version", action="version", version=f"calsync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def common(sub: argparse.ArgumentParser, *, now: bool = True) -> None:
        sub.add_argument("--plan", metavar="ID", help="only this plan")
        if now:
            sub.add_argument("--now", metavar="DATETIME", help="plan as if it were this moment (ISO 8601)")

    plan = commands.add_parser("plan", help="print the weeks, runs, sessions and warnings; writes nothing")
    plan.add_argument("--format", choices=["table", "json"], default="table")
    common(plan)
    plan.set_defaults(func=cmd_plan)

    rebuild = commands.add_parser("rebuild", help="one full pass: read, plan, reconcile, write")
    rebuild.add_argument("--dry-run", action="store_true", help="print the actions, write nothing")
    rebuild.add_argument("--force", action="store_true", help="allow a pass that deletes many sessions")
    common(rebuild)
    rebuild.set_defaults(func=cmd_rebuild)

    sync = commands.add_parser("sync", help="one incremental pass (the daemon's tick)")
    sync.add_argument("--dry-run", action="store_true", help="print the actions, write nothing")
    common(sync)
    sync.set_defaults(func=cmd_rebuild)

    status = commands.add_parser("status", help="when each plan last synced, what it did, what failed")
    common(status, now=False)
    status.set_defaults(func=cmd_status)

    daemon = commands.add_parser("daemon", help="run the scheduled passes until SIGTERM (SIGHUP reloads)")
    daemon.set_defaults(func=cmd_daemon, plan=None)

    check = commands.add_parser("check", help="validate the config and reach every source and target")
    common(check)
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calsync`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(verbose=args.verbose, level=logging.INFO if args.command == "daemon" else logging.WARNING)
    func: Callable[[argparse.Namespace, Config], int] = args.func
    if args.command == "daemon":
        # systemd may send SIGHUP (reload) or SIGTERM while the config and libraries load: note
        # them now, the daemon acts on them once its own handlers are in place
        args.early_signals = []
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: args.early_signals.append(received))
    try:
        config = load_config(find_config(args.config))
        return func(args, config)
    except CalsyncError as err:
        _error(err, args.verbose)
        return err.exit_code
    except KeyboardInterrupt:
        print("calsync: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so in one line, traceback with -v
        if args.verbose:
            raise
        print(
            f"calsync: internal error: {type(err).__name__}: {err} (run with -v for details)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
