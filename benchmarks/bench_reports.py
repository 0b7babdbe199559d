"""How much faster is ``make reports`` than the command-line recipe it replaces?

The baseline is what researchers ran before: for each report, ``papermill`` on the command line,
then ``jupyter nbconvert --to html`` on the command line, one job after another. Running it for
every job of the default batch takes hours, so by default it runs on a spread of jobs
(``--baseline-jobs``, default 6; ``--full`` for all) and the mean time per job is multiplied by
the number of planned jobs: the printout marks that figure as extrapolated.

Then the batch runner (``python -m helpers reports``) renders the same jobs cold (the ratio on
the same jobs, side by side), the whole default batch cold (``--force`` into a fresh output
folder), rebuilds with nothing changed — the two commands ``make reports`` runs, ``build-data``'s
check and the runner, goal under 0.5 s together — and re-renders one report, each timed on the
wall clock from the command's start to its end. From the cold run's ``timings.json`` it prints
where the workers' time went: inside notebook cells (goal at least 85 %) versus preparing,
the rest of executing, exporting and writing, and the workers' start and exit. Figures and ratios
are printed (and written as JSON with ``--json-out``)::

    .venv/bin/python benchmarks/bench_reports.py            # ~10 minutes on 2 cores
    .venv/bin/python benchmarks/bench_reports.py --baseline-jobs 12 -j 2 --json-out bench.json

Both sides run on a frozen copy of the project (source, notebooks, batch file, processed data),
made when the script starts: edits to the working tree during the benchmark do not leak into it.
The machine's load average is printed before and after: other work slows both sides, not
necessarily equally.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from helpers import paths
from helpers.batch import jobs as batch_jobs, run as batch_run
from helpers.batch.render import KERNEL_NAME

BIN = Path(sys.executable).parent
SNAPSHOT = ("src", "notebooks", "reports.yaml", "requirements", "pyproject.toml",
            "data/processed", "data/codebook.yaml", "data/reference", "data/raw",
            "data/inputs.json")
#: Goals of issue 14.
GOAL_SPEEDUP, GOAL_CELLS, GOAL_NO_CHANGE = 20.0, 0.85, 0.5


def snapshot(target: Path, batch_file: Path | None) -> dict[str, str]:
    """Copy what reports depend on into ``target``; the environment that makes it the project."""
    for name in SNAPSHOT:
        source = paths.ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    if batch_file:
        shutil.copy2(batch_file, target / "reports.yaml")
    return {**os.environ, "DISCONNECT_LAB_ROOT": str(target),
            "PYTHONPATH": os.pathsep.join([str(target / "src"), os.environ.get("PYTHONPATH", "")])}


def timed(command: list[str], env: dict[str, str],
          cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Wall-clock seconds of a command, and what it did."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    return time.perf_counter() - start, done


def spread(jobs: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """``k`` jobs spread through the plan: evenly spaced, shifted by one more job each time so
    that, with one notebook per stretch of the plan, each pick is a different segment."""
    k = min(k, len(jobs))
    return [jobs[min(int((i + 0.5) * len(jobs) / k) + i, len(jobs) - 1)] for i in range(k)]


def baseline_job(job: dict[str, Any], root: Path, workdir: Path,
                 env: dict[str, str]) -> dict[str, Any]:
    """papermill CLI, then jupyter nbconvert --to html CLI, for one planned job."""
    stem = Path(job["notebook"]).stem
    params = workdir / f"{stem}-{job['name']}.yaml"
    params.write_text(yaml.safe_dump(job["parameters"]))
    executed = workdir / f"{stem}-{job['name']}.ipynb"
    pm_s, pm = timed([str(BIN / "papermill"), str(root / job["notebook"]), str(executed),
                          "-f", str(params), "-k", KERNEL_NAME, "--cwd", str(root),
                          "--no-progress-bar"], env, root)
    nbc_s, nbc = timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed),
                        "--output-dir", str(workdir)], env, root)
    ok = pm.returncode == 0 and nbc.returncode == 0
    return {"job": f"{stem}/{job['name']}", "papermill_s": round(pm_s, 2),
            "nbconvert_s": round(nbc_s, 2), "seconds": round(pm_s + nbc_s, 2), "ok": ok}


def where_time_went(root: Path) -> dict[str, float]:
    """Sums over the reports of the last run's ``build/executed/timings.json``: each step, the
    workers' whole lives, and the share of that inside notebook cells."""
    doc = json.loads((root / "build" / "executed" / batch_run.TIMINGS_FILE).read_text())
    rows = doc["reports"]
    sums = {k: sum(r.get(k, 0.0) for r in rows) for k in (*batch_jobs.PHASES, "worker")}
    sums["startup_exit"] = max(sums["worker"] - sum(sums[k] for k in batch_jobs.PHASES), 0.0)
    sums["cells_share"] = sums["cells"] / sums["worker"] if sums["worker"] else 0.0
    sums["reports"] = len(rows)
    return sums


def no_change(root: Path, env: dict[str, str], workers: int) -> tuple[float, float, str]:
    """The two commands of a ``make reports`` that finds nothing to do, each timed."""
    data_s, data = timed([sys.executable, "-m", "helpers", "build-data"], env, root)
    if data.returncode != 0:
        raise RuntimeError(f"build-data failed:\n{data.stdout}{data.stderr}")
    reports_s, summary = runner(root, env, workers)
    return data_s, reports_s, summary


def runner(root: Path, env: dict[str, str], workers: int, *extra: str) -> tuple[float, str]:
    """Wall-clock time of one ``python -m helpers reports`` command and its summary line."""
    seconds, done = timed([sys.executable, "-m", "helpers", "reports", "-j", str(workers),
                           *extra], env, root)
    summary = [line for line in done.stdout.splitlines() if " reports: " in line]
    return seconds, summary[-1] if summary else (done.stdout + done.stderr)[-800:]


def measure(args: argparse.Namespace, root: Path, env: dict[str, str]) -> dict[str, Any]:
    """Plan, time the baseline on a spread of jobs, then the runner: cold, no change, one."""
    _, planned = timed([sys.executable, "-m", "helpers", "reports", "--dry-run", "--json"],
                       env, root)
    jobs = json.loads(planned.stdout)
    result: dict[str, Any] = {"planned_jobs": len(jobs), "cores": batch_run.default_workers(),
                              "workers": args.jobs, "load_before": os.getloadavg()}
    print(f"{len(jobs)} planned jobs, {result['cores']} cores, {args.jobs} workers, load average "
          f"{result['load_before'][0]:.2f}; project frozen in {root}", flush=True)
    if not args.skip_baseline:
        chosen = jobs if args.full else spread(jobs, args.baseline_jobs)
        print(f"baseline: papermill CLI, then jupyter nbconvert --to html CLI, on {len(chosen)} "
              f"of {len(jobs)} jobs, one after another", flush=True)
        workdir = root / "build" / "baseline"
        workdir.mkdir(parents=True)
        runs = []
        for job in chosen:
            runs.append(baseline_job(job, root, workdir, env))
            print(f"  {runs[-1]['seconds']:6.1f} s  {runs[-1]['job']}"
                  f"{'' if runs[-1]['ok'] else '  (FAILED)'}", flush=True)
        per_job = statistics.mean(r["seconds"] for r in runs)
        result["baseline"] = {"runs": runs, "mean_per_job_s": round(per_job, 2),
                              "total_s": round(per_job * len(jobs), 1),
                              "extrapolated": not args.full}
        if not args.full:  # the runner on the very same jobs, side by side
            only = [a for r in runs for a in ("--only", r["job"])]
            same, same_summary = runner(root, env, args.jobs, "--force", *only)
            result["same_jobs"] = {"jobs": len(runs), "baseline_s": round(
                sum(r["seconds"] for r in runs), 1), "runner_s": round(same, 1)}
            print(f"runner on the same {len(runs)} jobs: {same:7.1f} s   {same_summary}",
                  flush=True)
    print(f"runner: python -m helpers reports -j {args.jobs}", flush=True)
    timed([sys.executable, "-m", "helpers", "build-data"], env, root)  # this copy's own check
    cold, cold_summary = runner(root, env, args.jobs, "--force")
    print(f"  cold (--force, empty reports/): {cold:7.1f} s   {cold_summary}", flush=True)
    result["where"] = where_time_went(root)
    data_s, again, again_summary = no_change(root, env, args.jobs)
    print(f"  no change (build-data check + runner): {data_s:.2f} s + {again:.2f} s   "
          f"{again_summary}", flush=True)
    first = f"{Path(jobs[0]['notebook']).stem}/{jobs[0]['name']}"
    one, _ = runner(root, env, args.jobs, "--only", first, "--force")
    print(f"  one report ({first}, --force):  {one:7.1f} s", flush=True)
    result["runner"] = {"cold_s": round(cold, 1), "no_change_s": round(data_s + again, 2),
                        "no_change_data_s": round(data_s, 2), "no_change_reports_s": round(again, 2),
                        "one_report_s": round(one, 1), "cold_summary": cold_summary,
                        "no_change_summary": again_summary}
    result["load_after"] = os.getloadavg()
    return result


def report(result: dict[str, Any]) -> None:
    """Print the figures and ratios."""
    run, n = result["runner"], result["planned_jobs"]
    print()
    if "baseline" in result:
        base = result["baseline"]
        how = (f"extrapolated: mean of {len(base['runs'])} jobs x {n} planned jobs"
               if base["extrapolated"] else f"measured on all {n} jobs")
        result["speedup"] = round(base["total_s"] / run["cold_s"], 1)
        print(f"baseline (papermill CLI + nbconvert CLI): {base['mean_per_job_s']:.1f} s per job; "
              f"{base['total_s']:.0f} s for the batch ({how})")
        print(f"make reports, cold:                     {run['cold_s'] / n:.2f} s per job; "
              f"{run['cold_s']:.0f} s for the batch")
        print(f"speed-up (baseline / cold run):         {result['speedup']}x")
        if "same_jobs" in result:
            same = result["same_jobs"]
            result["speedup_same_jobs"] = round(same["baseline_s"] / same["runner_s"], 1)
            print(f"on the same {same['jobs']} jobs, side by side: baseline {same['baseline_s']:.0f}"
                  f" s, runner {same['runner_s']:.1f} s: {result['speedup_same_jobs']}x")
        best = result.get("speedup_same_jobs", result["speedup"])
        print(f"  goal >= {GOAL_SPEEDUP:g}x: {'met' if best >= GOAL_SPEEDUP else 'NOT met'}")
    where = result["where"]
    print(f"where the workers' time went ({where['reports']} reports, {where['worker']:.0f} "
          "worker-seconds):")
    for key in (*batch_jobs.PHASES, "startup_exit"):
        print(f"  {key:<14} {where[key]:8.1f} s  {where[key] / where['worker']:6.1%}")
    print(f"  inside cells: {where['cells_share']:.1%} (goal >= {GOAL_CELLS:.0%}: "
          f"{'met' if where['cells_share'] >= GOAL_CELLS else 'NOT met'})")
    print(f"no-change rebuild:                      {run['no_change_s']:.2f} s "
          f"(build-data {run['no_change_data_s']:.2f} s + reports "
          f"{run['no_change_reports_s']:.2f} s; goal < {GOAL_NO_CHANGE} s: "
          f"{'met' if run['no_change_s'] < GOAL_NO_CHANGE else 'NOT met'})")
    print(f"one report re-rendered:                 {run['one_report_s']:.1f} s")
    print(f"load average before / after:            {result['load_before'][0]:.2f} / "
          f"{result['load_after'][0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-jobs", type=int, default=6, metavar="N",
                        help="jobs to time the baseline on (default 6)")
    parser.add_argument("--full", action="store_true", help="time the baseline on every job")
    parser.add_argument("-j", "--jobs", type=int, default=batch_run.default_workers(),
                        help="workers for the runner (default: the number of cores)")
    parser.add_argument("--batch", type=Path, default=None, help="default reports.yaml")
    parser.add_argument("--skip-baseline", action="store_true", help="time only the runner")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        root = Path(tmp)
        result = measure(args, root, snapshot(root, args.batch))
    report(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
