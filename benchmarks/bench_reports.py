"""How much faster is ``make reports`` than the command-line recipe it replaces?

The baseline is what researchers ran before: for each report, ``papermill`` on the command line,
then ``jupyter nbconvert --to html`` on the command line, one job after another. Running it for
every job of the default batch takes hours, so by default it runs on a spread of jobs
(``--baseline-jobs``, default 6; ``--full`` for all) and the mean time per job is multiplied by
the number of planned jobs: the printout marks that figure as extrapolated.

Then the batch runner (``python -m helpers reports``) renders the whole default batch cold
(``--force`` into a fresh output folder), rebuilds with nothing changed, and re-renders one report,
each timed on the wall clock from the command's start to its end. Figures and ratios are printed
(and written as JSON with ``--json-out``)::

    .venv/bin/python benchmarks/bench_reports.py            # ~10 minutes on 2 cores
    .venv/bin/python benchmarks/bench_reports.py --baseline-jobs 12 -j 2 --json-out bench.json

The machine's load average is printed before and after: other work on the machine slows both
sides, but not necessarily equally.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from helpers import batch, paths
from helpers.reporting import KERNEL_NAME, Job

BIN = Path(sys.executable).parent


def spread(jobs: list[Job], k: int) -> list[Job]:
    """``k`` jobs evenly spaced through the plan (mid-points, so not only whole-sample runs)."""
    k = min(k, len(jobs))
    return [jobs[int((i + 0.5) * len(jobs) / k)] for i in range(k)]


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=paths.ROOT)
    return time.perf_counter() - start, done


def baseline_job(job: Job, workdir: Path) -> dict[str, Any]:
    """papermill CLI, then jupyter nbconvert --to html CLI, for one job."""
    params = workdir / f"{job.stem}-{job.name}.yaml"
    params.write_text(yaml.safe_dump(job.parameters))
    executed = workdir / f"{job.stem}-{job.name}.ipynb"
    pm_seconds, pm = timed([str(BIN / "papermill"), str(job.notebook), str(executed),
                            "-f", str(params), "-k", KERNEL_NAME, "--cwd", str(paths.ROOT),
                            "--no-progress-bar"])
    nbc_seconds, nbc = timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed),
                              "--output-dir", str(workdir)])
    return {"job": job.key, "papermill_s": round(pm_seconds, 2),
            "nbconvert_s": round(nbc_seconds, 2), "seconds": round(pm_seconds + nbc_seconds, 2),
            "ok": pm.returncode == 0 and nbc.returncode == 0}


def runner(args: argparse.Namespace, out: Path, *extra: str) -> tuple[float, str]:
    """Wall-clock time of one ``python -m helpers reports`` command and its summary line."""
    command = [sys.executable, "-m", "helpers", "reports", "-j", str(args.jobs),
               "--reports-dir", str(out / "reports"), "--executed-dir", str(out / "executed"),
               *(["--batch", str(args.batch)] if args.batch else []), *extra]
    seconds, done = timed(command)
    summary = [line for line in done.stdout.splitlines() if " reports: " in line]
    return seconds, summary[-1] if summary else done.stdout[-500:] + done.stderr[-500:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-jobs", type=int, default=6, metavar="N",
                        help="jobs to time the baseline on (default 6)")
    parser.add_argument("--full", action="store_true", help="time the baseline on every job")
    parser.add_argument("-j", "--jobs", type=int, default=batch.default_workers(),
                        help="workers for the runner (default: the number of cores)")
    parser.add_argument("--batch", type=Path, default=None, help="default reports.yaml")
    parser.add_argument("--skip-baseline", action="store_true", help="time only the runner")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    jobs = batch.load_batch(args.batch)
    result: dict[str, Any] = {"planned_jobs": len(jobs), "cores": batch.default_workers(),
                              "workers": args.jobs, "load_before": os.getloadavg()}
    print(f"{len(jobs)} planned jobs, {result['cores']} cores, load average "
          f"{result['load_before'][0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        workdir = Path(tmp)
        if not args.skip_baseline:
            chosen = jobs if args.full else spread(jobs, args.baseline_jobs)
            print(f"baseline: papermill CLI, then jupyter nbconvert --to html CLI, on "
                  f"{len(chosen)} of {len(jobs)} jobs, one after another")
            runs = []
            for job in chosen:
                runs.append(baseline_job(job, workdir))
                print(f"  {runs[-1]['seconds']:6.1f} s  {job.key}"
                      f"{'' if runs[-1]['ok'] else '  (failed)'}", flush=True)
            per_job = statistics.mean(r["seconds"] for r in runs)
            result["baseline"] = {"runs": runs, "mean_per_job_s": round(per_job, 2),
                                  "extrapolated_total_s": round(per_job * len(jobs), 1),
                                  "extrapolated": not args.full}
        print(f"runner: python -m helpers reports -j {args.jobs}", flush=True)
        cold, cold_summary = runner(args, workdir / "out", "--force")
        print(f"  cold:      {cold:7.1f} s   {cold_summary}", flush=True)
        again, again_summary = runner(args, workdir / "out")
        print(f"  no change: {again:7.2f} s   {again_summary}", flush=True)
        one, one_summary = runner(args, workdir / "out", "--only", jobs[0].key, "--force")
        print(f"  one report ({jobs[0].key}): {one:.1f} s", flush=True)
        result["runner"] = {"cold_s": round(cold, 1), "no_change_s": round(again, 2),
                            "one_report_s": round(one, 1), "cold_summary": cold_summary,
                            "no_change_summary": again_summary}
    result["load_after"] = os.getloadavg()
    if "baseline" in result:
        base = result["baseline"]
        label = "extrapolated" if base["extrapolated"] else "measured"
        result["speedup"] = round(base["extrapolated_total_s"] / cold, 1)
        print(f"\nbaseline: {base['mean_per_job_s']:.1f} s per job (mean of "
              f"{len(base['runs'])}) x {len(jobs)} jobs = {base['extrapolated_total_s']:.0f} s "
              f"({label})")
        print(f"cold make reports: {cold:.0f} s  ->  {result['speedup']}x faster "
              f"({base['mean_per_job_s'] / (cold / len(jobs)):.1f} s vs "
              f"{cold / len(jobs):.2f} s per job)")
    print(f"no-change rebuild: {again:.2f} s;  one report re-rendered: {one:.1f} s")
    print(f"load average after: {result['load_after'][0]:.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
