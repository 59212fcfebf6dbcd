"""calsync on a local plan, as ``calsync sync`` from a timer runs it: one process per pass.

Run it from the repository root with the project's interpreter::

    .venv/bin/python bench/local_bench.py [--rounds 7]

The bundled example (its run plan in a local ``.ics`` file, its sessions written to a local
``.ics`` target) in a temporary folder with its own state, after one ``rebuild``. Each round moves
the example's first long run by a day (and back the next round) and times three processes:

* **a moved run**: the pass that reads the changed plan and rewrites the sessions it moved;
* **idle, right after a write**: the next pass, nothing changed (it finds the listing the write
  kept, so it parses nothing);
* **idle**: the pass after that.

Wall and CPU seconds (user + system) of each process, medians of ``--rounds``; the machine is
shared, so compare the rows of one run (and compare two checkouts by running this script with
``PYTHONPATH=<other checkout>/src``, back to back). Exit status 0 unless the bench itself breaks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_bench import NOW, ROOT, compile_calsync, measured, move_long_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    compile_calsync()
    with tempfile.TemporaryDirectory(prefix="calsync-local-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "config"
        shutil.copytree(ROOT / "config", config)
        env = {**os.environ, "STATE_DIRECTORY": str(folder / "state")}
        calsync = [sys.executable, "-m", "calsync", "--config", str(config / "example.toml")]
        measured([*calsync, "rebuild", "--now", NOW], env)
        measured([*calsync, "sync", "--now", NOW], env)
        rows: dict[str, list[tuple[float, float]]] = {
            "a moved run": [],
            "idle, right after a write": [],
            "idle": [],
        }
        for round_ in range(args.rounds):
            move_long_run(config / "example-plan.ics", forward=round_ % 2 == 0)
            for name, rows_of in rows.items():
                wall, cpu, out = measured([*calsync, "sync", "--now", NOW], env)
                if name == "a moved run" and " 0 updated" in out:
                    raise SystemExit(f"the moved run changed nothing:\n{out}")
                rows_of.append((wall, cpu))
    print(f"local_bench: the bundled example, .ics file to .ics file, medians of {args.rounds} processes")
    print("| one process | wall | CPU |")
    print("|---|---|---|")
    for name, runs in rows.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"| {name} | {wall:.3f} s | {cpu:.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
