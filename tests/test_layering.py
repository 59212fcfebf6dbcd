"""The layers of DESIGN.md, checked on the imports of every module under ``src/calsync``.

The pure core never imports an adapter, the state or the service layer; an adapter never
imports the service layer. Every ``import`` statement counts, also those inside functions or
under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "calsync"

SERVICE = {
    "pipeline",
    "registry",
    "executor",
    "cli",
    "commands",
    "daemon",
    "feeds",
    "output",
    "logs",
    "__main__",
}
"""The service layer: composes adapters and the core."""
CORE_MAY_NOT = {"adapters", "state", "ports", "config", *SERVICE}
"""The core reads no file, environment or database: its settings are plain types (``core.settings``)."""
CORE_MAY_IMPORT = {"core", "errors"}


def _imports(path: Path) -> set[str]:
    """The first part below ``calsync`` of every calsync module a file imports (``core`` for
    ``calsync.core.planner``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "calsync" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> dict[str, set[str]]:
    """Module (``planner``, ``adapters.caldav``) -> the calsync modules it imports."""
    out: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).with_suffix("")
        out[".".join(relative.parts)] = _imports(path)
    return out


def test_the_walk_sees_the_known_arrows() -> None:
    """The walker itself: it finds arrows that are there (else the checks below prove nothing)."""
    modules = _modules()
    assert "core" in modules["core.planner"]
    assert "config" in modules["cli"]
    assert "executor" in modules["pipeline"]
    assert "ics_read" not in modules["registry"]  # only the first part below calsync counts
    assert "adapters" in modules["registry"]


def _core(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    core = {m: found for m, found in modules.items() if m == "core" or m.startswith("core.")}
    assert len(core) >= 10, sorted(core)  # the package is where the walk looks
    return core


def test_the_core_imports_no_config_adapter_state_port_or_service() -> None:
    bad = {m: sorted(found & CORE_MAY_NOT) for m, found in _core(_modules()).items() if found & CORE_MAY_NOT}
    assert bad == {}


def test_the_core_imports_only_itself_and_the_errors() -> None:
    bad = {
        m: sorted(found - CORE_MAY_IMPORT)
        for m, found in _core(_modules()).items()
        if found - CORE_MAY_IMPORT
    }
    assert bad == {}


def test_the_core_loads_without_pydantic_or_the_calendar_libraries() -> None:
    """Importing the whole core in a fresh interpreter pulls in none of the adapters' libraries."""
    code = (
        "import sys, calsync.core.planner, calsync.core.reconcile, calsync.core.render;"
        "print(sorted(m for m in ('pydantic', 'icalendar', 'caldav', 'requests', 'calsync.config', 'sqlite3')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_caldav_adapter_loads_without_an_http_library() -> None:
    """The CalDAV adapter speaks HTTP and WebDAV with the standard library (issue 12: the caldav
    library and its niquests / urllib3-future cost 0.19 s per process, and its ``.pth`` made
    ``requests`` cost 0.15 s too)."""
    code = (
        "import sys, calsync.adapters.caldav;"
        "print(sorted(m for m in ('caldav', 'niquests', 'requests', 'urllib3', 'urllib3_future', 'lxml')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_adapters_import_no_service_module() -> None:
    modules = _modules()
    bad = {m: sorted(imports & SERVICE) for m, imports in modules.items() if m.startswith("adapters.")}
    assert {m: found for m, found in bad.items() if found} == {}


def test_the_ports_and_the_adapters_never_see_the_state() -> None:
    """An adapter keeps what it must through the :class:`~calsync.ports.SyncStore` it is handed;
    only the service layer opens the state and scopes it (``state.ScopedStore``)."""
    modules = _modules()
    seeing = sorted(
        m for m, found in modules.items() if (m == "ports" or m.startswith("adapters.")) and "state" in found
    )
    assert seeing == []
