"""``python -m bench [-k SUBSTRING] [--runs N]``: run the benchmark cases, print a markdown
table and write it to bench/results.md."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import bench.cases  # noqa: F401  (registers the cases)
from bench.harness import REGISTRY, measure, report, select

RESULTS = Path(__file__).parent / "results.md"


def _progress(line: str) -> None:
    print(line, end="\r", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "-k",
        action="append",
        default=[],
        metavar="SUBSTRING",
        help="run only cases whose name contains SUBSTRING (repeatable)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each (min 1)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown report file")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)  # fmt: skip

    if args.list:
        for name in REGISTRY:
            print(name)
        return 0
    chosen = select(args.k)
    if not chosen:
        print(f"no case matches {args.k}; cases: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    if args.runs < 10:
        print(f"note: {args.runs} runs per contender; 10 or more make a median worth quoting",
              file=sys.stderr)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    tmp.chmod(0o755)
    try:
        results = [measure(c, tmp, args.runs, args.warmup, progress=_progress) for c in chosen]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(file=sys.stderr)
    text = report(results, args.runs, args.warmup)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
