"""What the daemon costs while idle, and how fast it serves feeds (issue 4).

Starts ``calsync daemon`` as a real process with 1 and with N plans (default 50), each reading its
run plan from a local HTTP server as an ``ics_url`` source (a coach's webcal feed) and writing a
``feed`` target, served by the daemon. Prints:

* resident memory (VmRSS) of the daemon once every plan has synced and it is idle (target: under
  80 MB with 50 plans);
* CPU seconds it used while idle over a measured window, per idle pass, and projected per hour at
  the default poll interval (5 minutes);
* requests per idle poll per plan, counted at the feed server (target: 1 conditional GET);
* the served feed's latency (p50 / p95) and requests per second under a bounded local load
  (C concurrent clients for S seconds), both full answers (200) and conditional ones (304).

Run:  python bench/daemon_bench.py [--plans 50] [--window 40] [--clients 8] [--seconds 5]
Standard library and ``requests`` only; needs calsync installed in this interpreter.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

DEFAULT_POLL_SECONDS = 300.0


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plan_ics(seed: int, weeks: int = 16) -> bytes:
    """A run plan from this week on: easy runs, quality, an all-day long run, an A race."""
    first = date.today() - timedelta(days=date.today().weekday())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync bench//EN"]
    for week in range(weeks):
        for uid, day, start, end, title in (
            (f"e{week}", 1, "1800", "1845", "Easy run 45 min"),
            (f"q{week}", 3, "0630", "0730", "Intervals 6x800m"),
        ):
            d = first + timedelta(weeks=week, days=day)
            lines += [
                "BEGIN:VEVENT",
                f"UID:{uid}-{seed}@bench",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART;TZID=Europe/Berlin:{d:%Y%m%d}T{start}00",
                f"DTEND;TZID=Europe/Berlin:{d:%Y%m%d}T{end}00",
                f"SUMMARY:{title}",
                "END:VEVENT",
            ]
        long_day = first + timedelta(weeks=week, days=5 + seed % 2)
        lines += [
            "BEGIN:VEVENT",
            f"UID:l{week}-{seed}@bench",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART;VALUE=DATE:{long_day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{long_day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:Long Run {18 + week} km",
            "END:VEVENT",
        ]
    race = first + timedelta(weeks=weeks, days=6)
    lines += [
        "BEGIN:VEVENT",
        f"UID:race-{seed}@bench",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;VALUE=DATE:{race:%Y%m%d}",
        f"DTEND;VALUE=DATE:{race + timedelta(days=1):%Y%m%d}",
        "SUMMARY:Race: Marathon (A)",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class CoachFeeds:
    """A local HTTP server with one feed per plan, honouring If-None-Match; counts requests."""

    def __init__(self, plans: int) -> None:
        self.bodies = {f"/p{i}.ics": plan_ics(i) for i in range(plans)}
        self.etags = {p: '"' + hashlib.sha256(b).hexdigest()[:16] + '"' for p, b in self.bodies.items()}
        self.hits: dict[str, int] = dict.fromkeys(self.bodies, 0)
        self.not_modified = 0
        self.lock = threading.Lock()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = feeds.bodies.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                with feeds.lock:
                    feeds.hits[self.path] += 1
                etag = feeds.etags[self.path]
                if self.headers.get("If-None-Match") == etag:
                    with feeds.lock:
                        feeds.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        """Requests so far."""
        with self.lock:
            return sum(self.hits.values())


def write_config(folder: Path, plans: int, feeds: CoachFeeds, poll: float, serve_port: int) -> Path:
    """N plans: ics_url source, feed target; a short poll, no jitter, no nightly rebuild."""
    parts = [
        f'[daemon]\npoll_seconds = {poll}\njitter_seconds = 0\nrebuild_at = "off"\n'
        f"[daemon.feeds]\nport = {serve_port}\n"
    ]
    for i in range(plans):
        parts.append(
            f'[[plan]]\nid = "p{i}"\ntimezone = "Europe/Berlin"\nhorizon_weeks = 12\n'
            f'[[plan.source]]\nkind = "ics_url"\nurl = "http://127.0.0.1:{feeds.port}/p{i}.ics"\n'
            f'[plan.target]\nkind = "feed"\npath = "{folder}/feeds/p{i}.ics"\n'
        )
    config = folder / "calsync.toml"
    config.write_text("\n".join(parts), encoding="utf-8")
    return config


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_synced(log: Path, plans: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until every plan logged a successful pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if all(f"plan p{i}: sync ok" in text for i in range(plans)):
            return
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited:\n{text}")
        time.sleep(0.2)
    raise SystemExit(f"not every plan synced within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def load_feed(url: str, clients: int, seconds: float, etag: str | None) -> tuple[list[float], int]:
    """C clients GET ``url`` back to back for S seconds; latencies (ms) and failures."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        nonlocal failures
        session = requests.Session()
        headers = {"If-None-Match": etag} if etag else {}
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = session.get(url, headers=headers, timeout=10)
            took = (time.perf_counter() - started) * 1000
            ok = response.status_code == (304 if etag else 200)
            with lock:
                latencies.append(took)
                failures += 0 if ok else 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures


def measure(plans: int, args: argparse.Namespace) -> dict[str, float]:
    """One daemon with ``plans`` plans: memory, idle CPU, requests per idle poll, feed load."""
    feeds = CoachFeeds(plans)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serve_port = free_port()
        config = write_config(folder, plans, feeds, args.poll, serve_port)
        log = folder / "daemon.log"
        env = {**os.environ, "STATE_DIRECTORY": str(folder / "state")}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "calsync", "--config", str(config), "daemon"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            wait_synced(log, plans, proc, timeout=120 + plans * 3)
            time.sleep(min(args.poll, 5))  # let the first passes settle
            hits0, passes0 = feeds.total(), log.read_text(errors="replace").count(": sync ok")
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.window)
            cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
            hits1, passes1 = feeds.total(), log.read_text(errors="replace").count(": sync ok")
            rss = rss_mb(proc.pid)
            idle_passes = passes1 - passes0
            cpu = cpu1 - cpu0
            per_pass = cpu / idle_passes if idle_passes else float("nan")
            projected = per_pass * plans * 3600 / DEFAULT_POLL_SECONDS
            baseline = max(0.0, cpu - per_pass * idle_passes)
            url = f"http://127.0.0.1:{serve_port}/feeds/p0.ics"
            first = requests.get(url, timeout=10)
            full, full_failures = load_feed(url, args.clients, args.seconds, None)
            cond, cond_failures = load_feed(url, args.clients, args.seconds, first.headers.get("ETag"))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        feeds.server.shutdown()

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else float("nan")

    return {
        "plans": plans,
        "rss_mb": rss,
        "window_s": t1 - t0,
        "idle_passes": idle_passes,
        "cpu_s_window": cpu,
        "cpu_ms_per_idle_pass": per_pass * 1000,
        "cpu_s_per_hour_default_poll": projected + baseline * 3600 / (t1 - t0),
        "requests_per_idle_poll_per_plan": (hits1 - hits0) / idle_passes if idle_passes else float("nan"),
        "feed_bytes": len(first.content),
        "feed_200_rps": len(full) / args.seconds,
        "feed_200_p50_ms": pct(full, 50),
        "feed_200_p95_ms": pct(full, 95),
        "feed_200_failures": full_failures,
        "feed_304_rps": len(cond) / args.seconds,
        "feed_304_p50_ms": pct(cond, 50),
        "feed_304_p95_ms": pct(cond, 95),
        "feed_304_failures": cond_failures,
    }


def main() -> None:
    """Measure 1 and N plans; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plans", type=int, default=50)
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval during the bench (s)")
    parser.add_argument("--window", type=float, default=40.0, help="idle measuring window (s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent feed clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="feed load duration per kind")
    args = parser.parse_args()
    rows = [measure(1, args), measure(args.plans, args)]
    keys = list(rows[0])
    print(f"{'':38}" + "".join(f"{r['plans']:>14.0f} plans" for r in rows))
    for key in keys[1:]:
        print(f"{key:38}" + "".join(f"{r[key]:>20.2f}" for r in rows))
    big = rows[-1]
    verdict = "PASS" if big["rss_mb"] < 80 else "FAIL"
    print(f"\nresident memory with {args.plans} plans: {big['rss_mb']:.1f} MB (target < 80 MB): {verdict}")
    print(
        f"requests per idle poll per plan: {big['requests_per_idle_poll_per_plan']:.2f} "
        "(target: 1 conditional GET, answered 304)"
    )


if __name__ == "__main__":
    main()
