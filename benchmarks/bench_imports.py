"""Warm import time of each notebook's import lines: what the first cell in JupyterLab waits for.

Goal (issue 14): ``from helpers import ...`` of everything a notebook uses under 1 s warm (the
files in the OS cache: one warm-up run first), heavy optional parts imported on first use. Each
run is a fresh interpreter that times, with ``time.perf_counter``, only the execution of the
notebook's ``import``/``from ... import`` statements (interpreter start-up is not part of it: a
kernel is already running when the cell executes). Median of ``--runs`` runs.

``--old SRC`` times the same lines against another copy of ``src/`` too (PYTHONPATH), the two
interleaved run by run so that load on the machine hits both alike, and prints the ratio, e.g.::

    git worktree add --detach /tmp/oldsrc <commit>
    .venv/bin/python benchmarks/bench_imports.py --old /tmp/oldsrc/src

The module graph itself is checked by tests/test_import_graph.py; this script only prints times.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.0  # seconds, warm
HEAVY = ("pyspark", "pandera", "polars", "duckdb", "statsmodels", "scipy", "matplotlib",
         "seaborn", "IPython", "openpyxl")

CHILD = f"""
import sys, time, json
code = sys.stdin.read()
start, cpu = time.perf_counter(), time.process_time()
exec(compile(code, "<import lines>", "exec"), {{}})
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "heavy": heavy}}))
"""


def import_lines(notebook: Path) -> str:
    """The ``import``/``from ... import`` statements of the notebook's code cells, in order."""
    statements = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in "".join(cell["source"]).splitlines())
        statements += [ast.unparse(node) for node in ast.parse(source).body
                       if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(statements)


def run_once(code: str, src: Path | None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, "-c", CHILD], input=code, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--old", type=Path, help="another src/ to time side by side")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    cases = {nb.stem: import_lines(nb) for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    cases["import helpers.processing"] = "import helpers.processing"
    sides = {"now": None} | ({"old": args.old.resolve()} if args.old else {})
    print(f"load average before: {os.getloadavg()}")
    print(f"runs per case: {args.runs} after one warm-up; goal {GOAL:.1f} s warm\n")
    results: dict[str, dict] = {}
    header = f"{'case':<28}{'now (s)':>9}{'cpu (s)':>9}"
    if args.old:
        header += f"{'old (s)':>9}{'old/now':>9}"
    print(header + "  goal     heavy modules loaded (now)")
    for name, code in cases.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        heavy: dict[str, list[str]] = {}
        for src in sides.values():  # warm-up: files into the OS cache, bytecode written
            run_once(code, src)
        for _ in range(args.runs):
            for side, src in sides.items():  # interleaved: load on the machine hits both alike
                out = run_once(code, src)
                times[side].append(out["seconds"])
                cpu[side].append(out["cpu"])
                heavy[side] = out["heavy"]
        medians = {side: statistics.median(ts) for side, ts in times.items()}
        met = "met" if medians["now"] < GOAL else "NOT met"
        cpu_now = statistics.median(cpu["now"])
        row = f"{name:<28}{medians['now']:>9.3f}{cpu_now:>9.3f}"
        if args.old:
            row += f"{medians['old']:>9.3f}{medians['old'] / medians['now']:>8.1f}x"
        print(f"{row}  {met:<8} {', '.join(heavy['now']) or '-'}")
        results[name] = {"median_s": medians, "runs_s": times, "cpu_s": cpu, "heavy": heavy,
                         "goal_s": GOAL, "met": medians["now"] < GOAL}
    print(f"\nload average after: {os.getloadavg()}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
