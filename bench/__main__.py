"""`python -m bench`: expbot's figures side by side with MLflow's."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import report
from bench.runner import RESULTS_DIR, Options, run


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load a seeded workload into expbot and MLflow and time both.",
    )

    parser.add_argument("--size", type=int, default=10_000, help="experiments to load")
    parser.add_argument(
        "--repeat",
        type=int,
        default=30,
        help="timed calls per figure, after 3 warm-ups",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also run expbot's figures on a scratch PostgreSQL database",
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed calls before each timed series"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="seconds after which a question's timing stops at 5 or more calls",
    )
    parser.add_argument("--skip-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--seed", type=int, default=7, help="workload seed")
    parser.add_argument(
        "--write-sample",
        type=int,
        default=2_000,
        help="experiments written through each API with full history and timed",
    )
    parser.add_argument(
        "--slash-requests", type=int, default=100, help="timed /exp search commands"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=RESULTS_DIR / "work",
        help="where the SQLite databases go",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=(
            "time databases loaded by an earlier run with the same size, seed "
            "and write sample instead of loading them, and keep the PostgreSQL "
            "database for the next run"
        ),
    )

    args = parser.parse_args(argv)
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")

    return Options(
        size=args.size,
        repeat=args.repeat,
        warmup=max(0, args.warmup),
        budget_seconds=args.budget,
        postgres=args.postgres,
        skip_mlflow=args.skip_mlflow,
        seed=args.seed,
        write_sample=min(args.write_sample, args.size),
        slash_requests=args.slash_requests,
        workdir=args.workdir,
        reuse=args.reuse,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("bench").setLevel(logging.INFO)
    options = parse_args(argv)
    # Turn SIGTERM into SystemExit so that `finally` blocks stop the
    # `expbot serve` subprocess and drop the scratch PostgreSQL database.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))

    machine = report.machine_info()
    results = run(options)
    machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["machine"] = machine
    path = report.save(results, RESULTS_DIR)

    print(report.format_text(results))
    for warning in results["warnings"]:
        print(f"WARNING: {warning}")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
