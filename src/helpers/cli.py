"""Command line: ``python -m helpers <command>`` (what the Makefile targets call).

Commands: ``simulate`` (synthetic sample), ``validate`` (check a survey), ``build-data`` (raw to
processed), ``reports`` (render the batch), ``pdf`` (print the reports and the index to PDF).
Bad input exits with status 2 and a message naming the file, column, rows and rule; no library
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.errors import DataError


def _simulate(args: argparse.Namespace) -> int:
    from helpers import simulate

    written = simulate.write_sample(args.out, firms=args.firms, ledger_rows=args.ledger_rows,
                                    seed=args.seed, waves=args.waves)
    for name, path in written.items():
        print(f"wrote {name}: {path}")
    return 0


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Path | None]:
    """Input paths given on the command line, resolved against the current directory."""
    return {name: None if getattr(args, name, None) in (None, Path("")) else
            Path(getattr(args, name)).resolve() for name in names}


def _chosen_inputs(args: argparse.Namespace, names: tuple[str, ...]) -> tuple[dict[str, Path], bool]:
    """The inputs to use (given, recorded or the sample; see helpers.inputs), the sample
    generated when it is needed and missing."""
    from helpers import inputs

    chosen, sample = inputs.choose(_given(args, names), use_sample=getattr(args, "sample", False))
    if sample and not chosen["survey"].exists():
        _write_sample(chosen["survey"].parent, args)
    return chosen, sample


def _write_sample(folder: Path, args: argparse.Namespace) -> None:
    from helpers import simulate

    print(f"no data of your own recorded: generating the synthetic sample in {folder}")
    simulate.write_sample(folder, firms=args.sample_firms, ledger_rows=args.sample_ledger_rows,
                          seed=args.sample_seed)


def _validate(args: argparse.Namespace) -> int:
    from helpers.processing import describe_row_selection, load_survey

    chosen, _ = _chosen_inputs(args, ("survey", "mapping"))
    df, report = load_survey(chosen["survey"], chosen.get("mapping"))
    print(describe_row_selection(df))
    print(report)
    return 0 if report.ok else 2


def _build_data(args: argparse.Namespace) -> int:
    from helpers import freshness, inputs, paths

    chosen, sample = _chosen_inputs(args, inputs.NAMES)
    print(inputs.describe(chosen, sample))
    # every `make reports` runs this first: when nothing it depends on has changed since the
    # last thorough check (same inputs, same files by size and time), say so without pandas
    given = {"inputs": chosen, "sample": sample, "root": str(paths.ROOT)}
    quick = args.out is None and not args.force and not args.strict
    if quick and freshness.unchanged("build-data", given):
        print("processed data up to date (no input or output changed since the last check); "
              "use --force to rebuild")
        return 0
    from helpers import codebook, privacy
    from helpers.processing import build_processed

    freshness.forget("build-data")  # a build that stops half-way leaves no shortcut behind
    result = build_processed(chosen["survey"], mapping=chosen.get("mapping"),
                             budgets=chosen.get("budgets"), ledger=chosen.get("ledger"),
                             fx=chosen.get("fx"), vendors=chosen.get("vendors"),
                             out_dir=args.out, force=args.force, strict=args.strict)
    if args.out is None:  # only the project's own processed data follows the recorded inputs
        inputs.record(chosen, sample)
        from helpers.batch.plan import HELPERS_DIR, Dependencies

        code = Dependencies(HELPERS_DIR)  # the build's own code: an edit means a new check
        freshness.remember("build-data", given,
                           [*chosen.values(), codebook.load_codebook().path, privacy.key_file(),
                            paths.PROCESSED,
                            *map(code.file, code.closure({"helpers.processing"}))],
                           env=[privacy.KEY_ENV, "DISCONNECT_LAB_ROOT"])
    m = result.manifest
    if result.skipped:
        print(f"processed data up to date ({', '.join(m['outputs'])}); use --force to rebuild")
        return 0
    if result.selection:
        print(result.selection)
    print(result.report)
    folder = "data/processed" if args.out is None else str(args.out).rstrip("/")
    for name, meta in m["outputs"].items():
        print(f"wrote {folder}/{name}: {meta['rows']} rows")
    if m["dropped_personal_fields"]:
        print(f"personal fields not carried over: {', '.join(m['dropped_personal_fields'])}")
    return 0


def _reports(args: argparse.Namespace) -> int:
    import json
    import signal
    import time

    from helpers import paths
    from helpers.batch import jobs as batch_jobs, plan as batch_plan, run as batch_run
    from helpers.batch.jobs import display_path

    options = batch_run.Options(reports_dir=args.reports_dir or paths.REPORTS,
                            executed_dir=args.executed_dir or batch_jobs.EXECUTED_DIR,
                            engine=args.engine or batch_run.default_engine(), timeout=args.timeout,
                            workers=args.jobs or batch_run.default_workers())
    batch_run.limit_native_threads(options.workers)  # before numpy is imported
    jobs = batch_plan.load_batch(args.batch)
    if args.dry_run:
        planned = batch_plan.plan(batch_plan.select(jobs, args.only), options.reports_dir, args.force)
        if args.json:
            print(json.dumps(batch_plan.plan_json(planned, options.reports_dir), indent=2))
        else:
            for p in planned:
                print(f"{'up to date' if p.up_to_date else 'render':10s}  {p.job.key}  "
                      f"{', '.join(p.reasons)}")
            for stale in batch_plan.stale_outputs(jobs, options.reports_dir, options.executed_dir):
                print(f"{'remove':10s}  {display_path(stale)}  (no longer in the batch)")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop workers, as on Ctrl-C
    start = time.monotonic()
    try:
        outcomes = batch_run.run(jobs, options, only=args.only, force=args.force)
    except KeyboardInterrupt:
        print("interrupted: running reports were stopped; finished reports are kept",
              file=sys.stderr)
        return 130
    except OSError as exc:  # the reports folder cannot be written at all (lock, stale files)
        print(f"error: {batch_run.describe_os_error(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(batch_plan.outcomes_json(outcomes, options.reports_dir), indent=2))
    print(batch_plan.summary(outcomes, options.reports_dir, time.monotonic() - start),
          file=sys.stderr if args.json else sys.stdout)
    for problem in outcomes.problems:  # the index could not be written: one sentence each
        print(f"error: {problem}", file=sys.stderr)
    failed = any(o.selected and o.status == "failed" for o in outcomes)
    return 1 if failed or outcomes.problems else 0


def _sample_arguments(p: argparse.ArgumentParser) -> None:
    """Size and seed of the synthetic sample, for when it has to be generated."""
    p.add_argument("--sample-firms", type=int, default=300)
    p.add_argument("--sample-ledger-rows", type=int, default=200_000)
    p.add_argument("--sample-seed", type=int, default=20261122)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write the synthetic sample (survey, budgets, ledger)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--firms", type=int, default=300)
    p.add_argument("--ledger-rows", type=int, default=200_000)
    p.add_argument("--waves", type=int, default=2)
    p.add_argument("--seed", type=int, default=20261122)
    p.set_defaults(func=_simulate)

    inputs_note = ("Without --survey: the inputs of the last build (data/inputs.json), or the "
                   "synthetic sample when none were recorded.")
    p = sub.add_parser("validate", help="check a survey file against the codebook",
                       description=inputs_note)
    p.add_argument("--survey", type=Path, default=None)
    p.add_argument("--mapping", type=Path, default=None, help="YAML mapping file")
    _sample_arguments(p)
    p.set_defaults(func=_validate)

    p = sub.add_parser("build-data", help="validate raw inputs and write data/processed",
                       description="Validate the raw inputs and write data/processed. Inputs given "
                       "are recorded in data/inputs.json; " + inputs_note[0].lower()
                       + inputs_note[1:])
    p.add_argument("--survey", type=Path, default=None)
    p.add_argument("--mapping", type=Path, default=None)
    p.add_argument("--budgets", type=Path, default=None)
    p.add_argument("--ledger", type=Path, default=None, help="ledger file or folder (CSV/Parquet)")
    p.add_argument("--fx", type=Path, default=None, help="FX table: date, currency, rate_to_eur")
    p.add_argument("--vendors", type=Path, default=None, help="vendor -> category mapping table")
    p.add_argument("--out", type=Path, default=None, help="default data/processed")
    p.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    p.add_argument("--strict", action="store_true",
                   help="any bad ledger line is an error (default: bad lines are excluded and "
                        "counted; more than half of them is an error anyway)")
    p.add_argument("--sample", action="store_true",
                   help="build from the synthetic sample (generated if missing) and record that")
    _sample_arguments(p)
    p.set_defaults(func=_build_data)

    p = sub.add_parser("reports", help="render the reports in reports.yaml (incremental, parallel)",
                       description="Render the batch: reuse reports whose fingerprint (notebook, "
                       "parameters, data, helpers, environment) is unchanged, render the rest in "
                       "parallel workers, write reports/index.html.")
    p.add_argument("--batch", type=Path, default=None, help="batch file (default reports.yaml)")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="only jobs whose notebook/name matches (glob, else substring); repeatable")
    p.add_argument("--force", action="store_true", help="render even reports that are up to date")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="parallel workers (default: the number of cores)")
    p.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                   help="limit per report (default 900); a report over it is stopped and marked failed")
    p.add_argument("--engine", choices=["fork", "kernel"], default=None,
                   help="fork: run each report in a forked copy of a driver that has imported "
                        "the heavy modules (default); kernel: a fresh Jupyter kernel per report")
    p.add_argument("--dry-run", action="store_true", help="print the plan, render nothing")
    p.add_argument("--json", action="store_true", help="print the plan (or the outcomes) as JSON")
    p.add_argument("--reports-dir", type=Path, default=None, help="default reports/")
    p.add_argument("--executed-dir", type=Path, default=None, help="default build/executed/")
    p.set_defaults(func=_reports)

    p = sub.add_parser("i18n", help="message catalogs: extract message ids (update) or list "
                       "untranslated ones (check)")
    p.add_argument("action", choices=["update", "check"])
    p.add_argument("languages", nargs="*", metavar="LANG", help="check only these (DE NL DA)")
    p.add_argument("--domain", action="append", default=[], metavar="DOMAIN",
                   help="only this catalog (e.g. perception, nb-02_disconnect_profile); repeatable")
    p.set_defaults(func=_i18n)

    p = sub.add_parser("pdf", help="print every report and the index to PDF beside it "
                       "(headless Chromium; incremental)",
                       description="Print reports/<notebook>/<name>.html and reports/index.html "
                       "to <name>.pdf beside each with Debian's Chromium (A4, the reports' print "
                       "stylesheet, page numbers). Only PDFs older than their page or the print "
                       "rules are printed again.")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="only reports whose notebook/name matches (glob, else substring; "
                        "'index' for the index); repeatable")
    p.add_argument("--reports-dir", type=Path, default=None, help="default reports/")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="pages printed at once in the one browser (default: cores, at most 4)")
    p.add_argument("--force", action="store_true", help="print even PDFs that are up to date")
    p.set_defaults(func=_pdf)
    return parser


def _i18n(args: argparse.Namespace) -> int:
    from helpers import catalogs

    return catalogs.main([args.action, *args.languages], args.domain or None)


def _pdf(args: argparse.Namespace) -> int:
    from helpers.batch import pdf

    return pdf.run(args.reports_dir, only=args.only, workers=args.jobs, force=args.force)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
