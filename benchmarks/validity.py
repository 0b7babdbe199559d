"""Validity study: does each headline estimate of the reports recover the simulated truth?

For ``--reps`` simulated samples of ``--firms`` firms (seeds ``--seed``, ``--seed``+1, …; any
simulation setting overridden with ``--set name=value``, e.g. ``--set item_sd=0.8 --set
report_accuracy=0.85``) the processed data is built as ``make data`` builds it and every
report's headline function runs on it — the same function its notebook calls
(:mod:`helpers.validity`). Per estimand the table gives the truth (``truth.yaml``
``estimands``), mean estimate, bias, RMSE, 95 % CI coverage, power, false positives on true
nulls, how often the verdict in words is right, and which target failed.

    .venv/bin/python benchmarks/validity.py --reps 200 --firms 300 --seed 1
    .venv/bin/python benchmarks/validity.py --reps 100 --set item_sd=0.8 --json

The last line is ``validity: K/M estimands within targets``; the exit status is 0 when all are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from helpers import validity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated samples (default 200)")
    parser.add_argument("--firms", type=int, default=300, help="firms per sample (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first sample")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="NAME=VALUE", help="override a simulation setting (repeatable)")
    parser.add_argument("--areas", nargs="*", default=None,
                        help=f"only these areas ({', '.join(validity.AREA_CALLS)})")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--rows", metavar="CSV", default=None,
                        help="also write every replication's headline rows to this CSV file")
    args = parser.parse_args(argv)
    try:
        settings = validity.parse_settings(args.settings)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    study = validity.run(args.reps, args.firms, args.seed, settings, args.areas, args.workers)
    seconds = time.perf_counter() - start
    if args.rows:
        study.rows.to_csv(args.rows, index=False)
    if args.json:
        print(json.dumps({**study.to_json(), "seconds": round(seconds, 1)}, indent=2))
    else:
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        print(f"{args.reps} samples of {args.firms} firms, seeds {args.seed}.."
              f"{args.seed + args.reps - 1}, settings: {shown}; {seconds:.0f} s\n")
        print(validity.format_summary(study.summary))
        print()
    print(study.last_line())
    return 0 if study.within == len(study.summary) else 1


if __name__ == "__main__":
    sys.exit(main())
