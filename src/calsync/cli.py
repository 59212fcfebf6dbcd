"""The command line (PRODUCT.md section 5): ``calsync [--config FILE] COMMAND``.

Exit codes: 0 done; 1 a source or target failed (nothing was lost); 2 bad config or usage.
Errors are one line naming the plan, the source or target and what to do; ``-v`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from calsync import __version__, logs
from calsync.errors import CalsyncError


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"calsync: {message} (see `calsync --help`)\n")


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

    rebuild = commands.add_parser("rebuild", help="one full pass: read, plan, reconcile, write")
    rebuild.add_argument("--dry-run", action="store_true", help="print the actions, write nothing")
    rebuild.add_argument("--force", action="store_true", help="allow a pass that deletes many sessions")
    common(rebuild)

    sync = commands.add_parser("sync", help="one incremental pass (the daemon's tick)")
    sync.add_argument("--dry-run", action="store_true", help="print the actions, write nothing")
    common(sync)

    status = commands.add_parser("status", help="when each plan last synced, what it did, what failed")
    status.add_argument("--format", choices=["text", "json"], default="text")
    common(status, now=False)

    daemon = commands.add_parser("daemon", help="run the scheduled passes until SIGTERM (SIGHUP reloads)")
    daemon.set_defaults(plan=None)

    check = commands.add_parser("check", help="validate the config and reach every source and target")
    common(check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calsync`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(verbose=args.verbose, level=logging.INFO if args.command == "daemon" else logging.WARNING)
    if args.command == "daemon":
        # systemd may send SIGHUP (reload) or SIGTERM while the config and libraries load: note
        # them now, the daemon acts on them once its own handlers are in place
        args.early_signals = []
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: args.early_signals.append(received))
    try:
        from calsync import commands  # noqa: PLC0415 - after the command line: --help stays fast
        from calsync.config import find_config, load_config  # noqa: PLC0415

        config = load_config(find_config(args.config))
        return commands.COMMANDS[args.command](args, config)
    except CalsyncError as err:
        print(f"calsync: {logs.mask(str(err))}", file=sys.stderr)
        if args.verbose:
            logging.getLogger("calsync").error("%s", err, exc_info=err)
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
