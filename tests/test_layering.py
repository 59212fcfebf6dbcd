"""The layers of DESIGN.md, checked on the imports of every module under ``src/calsync``.

The pure core never imports an adapter, the state or the service layer; an adapter never
imports the service layer. Every ``import`` statement counts, also those inside functions or
under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "calsync"

CORE = {"model", "classify", "phases", "catalogue", "planner", "reconcile", "render", "errors"}
"""The pure modules: no I/O, no clock."""
SERVICE = {"pipeline", "registry", "executor", "cli", "daemon", "feeds", "output", "logs", "__main__"}
"""The service layer: composes adapters and the core."""
CORE_MAY_NOT = {"adapters", "state", "ports", *SERVICE}
CONFIG_PENDING = {"classify", "phases", "catalogue", "planner"}
"""Core modules that still read their settings from ``config`` (pydantic models); issue 10's
``core/settings`` turns these into plain types. No other core module may start doing so."""


def _imports(path: Path) -> set[str]:
    """The first part below ``calsync`` of every calsync module a file imports."""
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
    assert "model" in modules["planner"]
    assert "executor" in modules["pipeline"]
    assert "ics_read" not in modules["pipeline"]  # only the first part below calsync counts
    assert "adapters" in modules["pipeline"]


def test_the_core_imports_no_adapter_state_port_or_service() -> None:
    modules = _modules()
    bad = {m: sorted(modules[m] & CORE_MAY_NOT) for m in CORE if modules[m] & CORE_MAY_NOT}
    assert bad == {}


def test_no_new_core_module_reads_the_config() -> None:
    modules = _modules()
    readers = {m for m in CORE if "config" in modules[m]}
    assert readers <= CONFIG_PENDING, sorted(readers - CONFIG_PENDING)


def test_adapters_import_no_service_module() -> None:
    modules = _modules()
    bad = {m: sorted(imports & SERVICE) for m, imports in modules.items() if m.startswith("adapters.")}
    assert {m: found for m, found in bad.items() if found} == {}
