"""The Home Assistant custom integration, checked from the main suite (issue 11).

* Offline hassfest-style checks of ``custom_components/calsync`` (manifest keys, translations,
  services) and HACS's ``hacs.json`` rules.
* The packaging: the component's vendored calsync modules import only the libraries its manifest
  requires, and those requirements fit Home Assistant 2024.3.3's pinned ``package_constraints.txt``.
* The golden plan the phcc tests compare the calendar entity with is what ``calsync plan --format
  json`` prints for the bundled example today (so it cannot go stale).
* The phcc suite itself (``tests_ha/``), run in its own virtual environment (``phcc_runner``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from calsync.config import load_config
from calsync.core.render import describe
from calsync.pipeline import make_plan

if TYPE_CHECKING:
    from http_feed import HttpFeed

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / "calsync"
GOLDEN = ROOT / "tests_ha" / "data" / "example-plan.json"
NOW = "2026-11-27T07:30:00+01:00"
pytest_plugins = ["phcc_env", "http_feed"]


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_ha_component", ROOT / "scripts" / "build_ha_component.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest() -> dict[str, Any]:
    return dict(json.loads((COMPONENT / "manifest.json").read_text()))


# --- hassfest-style checks ---------------------------------------------------------------------


def test_manifest_has_the_keys_hassfest_requires_of_a_custom_integration() -> None:
    manifest = _manifest()
    for key in (
        "domain",
        "name",
        "codeowners",
        "documentation",
        "issue_tracker",
        "requirements",
        "dependencies",
        "iot_class",
        "version",
        "config_flow",
        "integration_type",
    ):
        assert key in manifest, key
    assert manifest["domain"] == COMPONENT.name == "calsync"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] in {
        "assumed_state",
        "calculated",
        "cloud_polling",
        "cloud_push",
        "local_polling",
        "local_push",
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert version
    assert manifest["version"] == version[1]
    assert list(manifest) == ["domain", "name", *sorted(k for k in manifest if k not in ("domain", "name"))]


def test_translations_cover_every_form_field_error_and_entity() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    assert json.loads((COMPONENT / "translations" / "en.json").read_text()) == strings
    source = "\n".join(p.read_text() for p in COMPONENT.glob("*.py"))
    for error in set(
        re.findall(
            r'"(\w+)": "(one_source|unknown_entity|bad_url|cannot_fetch|'
            r'not_a_calendar|unknown_time_zone|bad_windows)"',
            source,
        )
    ):
        assert error[1] in strings["config"]["error"], error
        assert error[1] in strings["options"]["error"], error
    used = set(re.findall(r'super\(\).__init__\(coordinator, "(\w+)"\)', source))
    assert used == {"calendar", "next_session", "this_week", "source_problem"}
    named = set(strings["entity"]["sensor"]) | set(strings["entity"]["binary_sensor"])
    assert used - {"calendar"} == named  # the calendar takes the device's name
    assert "source_failed" in strings["issues"]
    services = (COMPONENT / "services.yaml").read_text()
    assert (
        set(re.findall(r"^(\w+):$", services, re.MULTILINE))
        == set(strings["services"])
        == {"rebuild", "plan"}
    )


def test_hacs_json_follows_hacs_rules_and_the_zip_holds_the_component(tmp_path: Path) -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    allowed = {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "persistent_directory",
        "render_readme",
        "hacs",
    }
    assert set(hacs) <= allowed
    assert hacs["name"]
    assert hacs["content_in_root"] is False  # the integration lives in custom_components/calsync
    assert hacs["zip_release"] is True  # HACS: zip_release needs filename
    assert hacs["filename"].endswith(".zip")
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", hacs["homeassistant"])
    zipped = _builder().build_zip(tmp_path, COMPONENT)
    assert zipped.name == hacs["filename"]
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
    for required in (
        "manifest.json",
        "__init__.py",
        "config_flow.py",
        "strings.json",
        "translations/en.json",
        "calsync_lib/core/planner.py",
        "calsync_lib/output.py",
    ):
        assert required in names, required
    assert not any("__pycache__" in n for n in names)
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "scripts/build_ha_component.py --zip dist" in workflow
    assert f"dist/{hacs['filename']}" in workflow  # the asset HACS looks for is attached to releases


def test_the_build_refuses_an_import_it_cannot_make_relative() -> None:
    builder = _builder()
    assert builder.relative_imports("from calsync.core.model import Run\n", "output.py") == (
        "from .core.model import Run\n"
    )
    assert builder.relative_imports("    from calsync import __version__\n", "core/x.py") == (
        "    from .. import __version__\n"
    )
    with pytest.raises(SystemExit, match="cannot make relative"):
        builder.relative_imports("import calsync.config\n", "output.py")


# --- packaging --------------------------------------------------------------------------------


def test_vendored_modules_import_only_what_the_manifest_requires(tmp_path: Path) -> None:
    """The vendored tree imported alone (no calsync on the path): every top-level module it
    loads is the standard library's or one of the manifest's requirements' (or theirs)."""
    builder = _builder()
    lib = builder.vendor(tmp_path / "custom_components" / "calsync")
    (tmp_path / "custom_components" / "__init__.py").write_text("")
    (lib.parent / "__init__.py").write_text("")
    probe = (
        "import sys, json\nsys.path.insert(0, '.')\n"
        "before = set(sys.modules)\n"
        "import custom_components.calsync.calsync_lib.core.planner\n"
        "import custom_components.calsync.calsync_lib.output\n"
        "import custom_components.calsync.calsync_lib.adapters.ics_read\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "found = new - set(sys.stdlib_module_names) - {'custom_components'}\n"
        "print(json.dumps(sorted(m for m in found if not m.startswith('_sysconfigdata'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    third_party = set(json.loads(done.stdout))
    assert "calsync" not in third_party
    assert "pydantic" not in third_party
    # the manifest's requirements and what they pull in (icalendar: dateutil, six; x-wr-timezone: click)
    allowed = {
        "icalendar",
        "recurring_ical_events",
        "x_wr_timezone",
        "tzdata",
        "dateutil",
        "six",
        "click",
        "typing_extensions",
        "_distutils_hack",
    }
    assert third_party <= allowed, third_party - allowed
    assert {"icalendar", "recurring_ical_events", "x_wr_timezone"} <= third_party


def _requirement(text: str) -> tuple[str, str]:
    name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)(.*)", text.strip()).groups()  # type: ignore[union-attr]
    return name.lower().replace("_", "-"), spec


def _pins(text: str) -> dict[str, str]:
    """name -> specifier of a requirements or constraints text (``==1.0`` for a lock)."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#")[0].strip()
        if line and not raw.startswith(" "):
            name, spec = _requirement(line)
            pins[name] = spec
    return pins


LOCK = ROOT / "tests" / "phcc-requirements-py311.txt"


def test_manifest_requirements_match_pyproject_and_the_lock_resolved_in_ha() -> None:
    """The manifest asks for pyproject's ranges; the lock, resolved by uv with Home Assistant
    2024.3.3's constraints (see its header), holds a version of each."""
    from packaging.specifiers import SpecifierSet

    manifest = dict(_requirement(r) for r in _manifest()["requirements"])
    pyproject = (ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.MULTILINE | re.DOTALL)[1]  # type: ignore[index]
    declared = dict(_requirement(r) for r in re.findall(r'^\s*"([^"]+)"', dependencies, re.MULTILINE))
    for name, spec in manifest.items():
        assert declared[name] == spec, f"{name}: manifest {spec!r}, pyproject {declared[name]!r}"
    locked = _pins(LOCK.read_text())
    assert locked["homeassistant"] == "==2024.3.3"
    for name, spec in manifest.items():
        assert name in locked, f"{name} missing from the phcc lock"
        assert SpecifierSet(spec).contains(locked[name][2:]), f"{name}{spec} vs the lock's {locked[name]}"


def test_manifest_requirements_fit_the_pins_of_the_installed_home_assistant(phcc_python: Path) -> None:
    """Against ``homeassistant/package_constraints.txt`` of the release installed for the phcc
    tests (2024.3.3): a pinned requirement must allow the pin, a ranged one the locked version."""
    from packaging.specifiers import SpecifierSet

    where = subprocess.run(
        [
            str(phcc_python),
            "-c",
            "import homeassistant, pathlib, homeassistant.const as c;"
            "print(pathlib.Path(homeassistant.__file__).parent / 'package_constraints.txt');"
            "print(c.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout.split()
    assert where[1] == "2024.3.3"
    pins = _pins(Path(where[0]).read_text())
    assert pins["pydantic"] == "==1.10.12"
    locked = _pins(LOCK.read_text())
    for name, spec in (_requirement(r) for r in _manifest()["requirements"]):
        if name in pins:
            version = pins[name][2:] if pins[name].startswith("==") else locked[name][2:]
            assert SpecifierSet(spec).contains(version), f"{name}{spec} vs HA's {name}{pins[name]}"
            assert SpecifierSet(pins[name]).contains(version)
    # (2024.3.3 pins none of the five: then the lock test above is what shows they resolve)


def _ha_pip_install(python: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    """The pip command Home Assistant runs for a manifest requirement in a virtual environment
    (``homeassistant.util.package.install_package``: ``--upgrade --constraint
    package_constraints.txt``), with ``--dry-run``: resolved against the registry, nothing changed."""
    constraints = subprocess.run(
        [
            str(python),
            "-c",
            "import homeassistant, pathlib;"
            "print(pathlib.Path(homeassistant.__file__).parent / 'package_constraints.txt')",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout.strip()
    return subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--dry-run",
            requirement,
            "--upgrade",
            "--constraint",
            constraints,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=_clean_env(),
    )


def test_home_assistant_installs_the_manifest_requirements(phcc_python: Path) -> None:
    """HA 2024.3.3's own install command accepts each manifest requirement, under its pins."""
    for requirement in _manifest()["requirements"]:
        done = _ha_pip_install(phcc_python, requirement)
        assert done.returncode == 0, f"{requirement}: {done.stderr[-2000:]}"


def test_the_phcc_lock_was_compiled_from_tests_ha_requirements() -> None:
    """Every requirement of tests_ha/requirements.in is pinned in the lock to a version it allows."""
    from packaging.requirements import Requirement

    lock = (ROOT / "tests" / "phcc-requirements-py311.txt").read_text()
    pinned = {
        _requirement(line)[0]: line.split("==")[1].strip()
        for line in lock.splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    wanted = [
        Requirement(line.split("#")[0].strip())
        for line in (ROOT / "tests_ha" / "requirements.in").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert len(wanted) >= 10
    for requirement in wanted:
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in the lock: compile it again (see its header)"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} vs {requirement}"


# --- the golden plan -----------------------------------------------------------------------------


def golden_plan(
    tmp_path: Path, now: str = NOW, source: Path = ROOT / "config" / "example-plan.ics"
) -> dict[str, Any]:
    """``calsync plan --format json`` for the bundled example's config (without its file target;
    its source may be replaced), with the description calsync writes for each session."""
    example = (ROOT / "config" / "example.toml").read_text()
    example = example.replace('path = "example-plan.ics"', f'path = "{source}"')
    example = re.sub(r"\[plan\.target\]\nkind = \"ics_file\".*\npath = .*\n", "", example)
    config_path = tmp_path / "example.toml"
    config_path.write_text(example)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "calsync",
            "--config",
            str(config_path),
            "plan",
            "--format",
            "json",
            "--now",
            now,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    plan_config = load_config(config_path).plan[0]
    result, _ = make_plan(plan_config, datetime.fromisoformat(now))
    return {
        "now": now,
        "plan": printed,
        "descriptions": {s.uid: describe(s) for s in result.sessions},
    }


def test_golden_plan_for_the_phcc_tests_is_what_calsync_plan_prints(tmp_path: Path) -> None:
    fresh = golden_plan(tmp_path)
    assert [s["uid"] for s in fresh["plan"]["plans"][0]["sessions"]] == sorted(
        fresh["descriptions"], key=[s["uid"] for s in fresh["plan"]["plans"][0]["sessions"]].index
    )
    if os.environ.get("CALSYNC_UPDATE_GOLDEN"):  # after a deliberate change, as tests/test_golden.py
        if GOLDEN.is_file():
            fresh["plan"]["generated_at"] = json.loads(GOLDEN.read_text())["plan"]["generated_at"]
        GOLDEN.write_text(json.dumps(fresh, indent=1) + "\n")
    if not GOLDEN.is_file():
        pytest.fail(f"{GOLDEN} is missing: write it with CALSYNC_UPDATE_GOLDEN=1")
    stored = json.loads(GOLDEN.read_text())
    fresh["plan"]["generated_at"] = stored["plan"]["generated_at"]
    assert stored == fresh, "the plan changed: CALSYNC_UPDATE_GOLDEN=1 pytest tests/test_ha_component.py"


# --- the phcc suite and a real Home Assistant ----------------------------------------------------


def _component_copy(folder: Path) -> Path:
    """The component as HACS installs it (vendored core included) in ``folder/custom_components``."""
    target = folder / "custom_components" / "calsync"
    shutil.copytree(COMPONENT, target, ignore=shutil.ignore_patterns("calsync_lib", "__pycache__"))
    _builder().vendor(target)
    return target


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"} | {
        "PYTHONDONTWRITEBYTECODE": "1"
    }


def test_phcc_suite(phcc_python: Path, tmp_path: Path) -> None:
    """tests_ha/ on Home Assistant 2024.3.3's test harness, in its own environment; its output
    is in the failure message."""
    _component_copy(tmp_path)
    shutil.copytree(ROOT / "tests_ha", tmp_path / "tests_ha", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "example-plan.ics", tmp_path / "config")
    done = subprocess.run(
        [
            str(phcc_python),
            "-m",
            "pytest",
            "-c",
            "tests_ha/pytest.ini",
            "tests_ha",
            "-p",
            "no:sugar",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=_clean_env(),
    )
    output = done.stdout[-30000:] + done.stderr[-5000:]
    assert done.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    passed = re.search(r"\b(\d+) passed", summary)
    assert passed, output
    assert int(passed[1]) >= 21, output
    assert "failed" not in summary, output
    assert "skipped" not in summary, output


def plan_around_today() -> bytes:
    """Twelve weeks of runs from this week's Monday: easy and tempo runs as weekly RRULEs in
    Europe/Berlin (no VTIMEZONE: calsync knows the name), all-day long runs, a marathon at the end."""
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync tests//EN"]

    def event(uid: str, summary: str, start: str, end: str, rrule: str = "") -> None:
        lines.extend(
            ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", start, end, f"SUMMARY:{summary}"]
        )
        lines.extend([rrule] if rrule else [])
        lines.append("END:VEVENT")

    for weekday, summary, hhmm in ((1, "Easy run 45 min", "0700"), (3, "Tempo run 50 min", "1800")):
        day = (monday + timedelta(days=weekday)).strftime("%Y%m%d")
        event(
            f"{summary[:4].lower()}@e2e",
            summary,
            f"DTSTART;TZID=Europe/Berlin:{day}T{hhmm}00",
            f"DTEND;TZID=Europe/Berlin:{day}T{int(hhmm[:2]) + 1:02d}{hhmm[2:]}00",
            "RRULE:FREQ=WEEKLY;COUNT=12",
        )
    for week in range(12):
        saturday = monday + timedelta(weeks=week, days=5)
        title = "Marathon (A)" if week == 11 else f"Long run {16 + week} km"
        event(
            f"long-{week}@e2e",
            title,
            f"DTSTART;VALUE=DATE:{saturday:%Y%m%d}",
            f"DTEND;VALUE=DATE:{saturday + timedelta(days=1):%Y%m%d}",
        )
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def test_end_to_end_on_a_real_home_assistant(
    phcc_python: Path, http_feed: HttpFeed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Home Assistant 2024.3.3 as a process with the component in its custom_components/: the flow
    completed over the REST API, the calendar read over GET /api/calendars/..."""
    import ha_server

    folder = tmp_path_factory.mktemp("ha-e2e")
    _component_copy(folder)
    # a real HA runs on the real clock: a plan around today (the bundled example's dates pass)
    plan = tmp_path_factory.mktemp("plan") / "plan.ics"
    plan.write_bytes(plan_around_today())
    http_feed.set("/plan.ics", plan.read_bytes())
    server = ha_server.start_server(phcc_python, folder)
    try:
        assert server.version == "2024.3.3"
        flow = server.rest("POST", "/api/config/config_entries/flow", json={"handler": "calsync"})
        assert flow.status_code == 200, flow.text
        assert flow.json()["type"] == "form"
        assert flow.json()["step_id"] == "user"
        flow_id = flow.json()["flow_id"]
        bad = server.rest(
            "POST",
            f"/api/config/config_entries/flow/{flow_id}",
            json={
                "name": "example",
                "ics_url": http_feed.url("/missing.ics"),
                "time_zone": "Europe/Berlin",
                "horizon_weeks": 24,
            },
        )
        assert bad.json()["errors"] == {"ics_url": "cannot_fetch"}, bad.text
        now = datetime.now(UTC).isoformat(timespec="seconds")
        done = server.rest(
            "POST",
            f"/api/config/config_entries/flow/{flow_id}",
            json={
                "name": "example",
                "ics_url": http_feed.url("/plan.ics"),
                "time_zone": "Europe/Berlin",
                "horizon_weeks": 24,
            },
        )
        assert done.json()["type"] == "create_entry", done.text
        deadline = time.monotonic() + 30
        while server.state("calendar.example") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        events = server.events("calendar.example", "2025-01-01T00:00:00Z", "2028-01-01T00:00:00Z")
        expected = golden_plan(tmp_path_factory.mktemp("cli"), now, plan)
        sessions = expected["plan"]["plans"][0]["sessions"]
        assert len(sessions) >= 20  # twelve weeks: strength sessions and rest days
        assert [e["uid"] for e in events] == [s["uid"] for s in sessions]
        for event, session in zip(events, sessions, strict=True):
            assert event["summary"] == session["title"]
            assert event["description"] == expected["descriptions"][session["uid"]]
            start = event["start"].get("dateTime") or event["start"]["date"]
            assert (datetime.fromisoformat(start) if "T" in start else start) == (
                datetime.fromisoformat(session["start"]) if "T" in session["start"] else session["start"]
            )
        sensor = server.state("sensor.example_next_session")
        assert sensor is not None
        assert sensor["attributes"]["device_class"] == "timestamp"
        assert server.state("binary_sensor.example_source_problem")["state"] == "off"  # type: ignore[index]
        assert http_feed.log  # HA fetched the plan over HTTP
    finally:
        ha_server.stop_server(server.process)
