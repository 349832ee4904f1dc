"""`make bench`: run every `bench/bench_*.py`, print one table, write bench/results.json.

    python -m bench.run                      # everything
    python -m bench.run --only extraction    # bench_extraction.py only (repeatable, or a,b)
    python -m bench.run --list               # the modules there are

results.json is `{"rows": [...], "modules": {module: [row names]}, ...}`. A partial run
(`--only`) replaces the rows of the modules it ran and keeps the others from the last run,
so the file always holds one row set per module. A module that raises gets one failing row
saying so, and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bench.framework import BenchContext, Row

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results.json"
PREFIX = "bench_"


def discover() -> list[str]:
    """Names of the bench modules, without the prefix, sorted."""
    return sorted(
        info.name[len(PREFIX):]
        for info in pkgutil.iter_modules([str(BENCH_DIR)])
        if info.name.startswith(PREFIX)
    )


def select(available: list[str], only: list[str] | None) -> list[str]:
    if not only:
        return available
    wanted = [name.strip().removeprefix(PREFIX) for item in only for name in item.split(",")]
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise SystemExit(f"unknown bench {', '.join(unknown)}; there are: {', '.join(available)}")
    return [name for name in available if name in wanted]


def run_module(name: str, ctx: BenchContext) -> tuple[list[Row], bool]:
    """The module's rows, and whether it ran to the end."""
    try:
        module = importlib.import_module(f"bench.{PREFIX}{name}")
        rows: list[Row] = list(module.rows(ctx))
    except Exception as exc:
        traceback.print_exc()
        return [{"name": f"bench_{name} raised {type(exc).__name__}: {exc}", "unit": "",
                 "target": "runs", "measured": None, "pass": False}], False
    for row in rows:
        missing = {"name", "unit", "target", "measured", "pass"} - set(row)
        if missing:
            raise SystemExit(f"bench_{name} returned a row without {sorted(missing)}: {row}")
    return rows, True


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def format_table(rows: list[Row]) -> str:
    header = ("bench", "measured", "unit", "target", "result")
    lines = [
        (r["name"], _fmt(r["measured"]), r["unit"], r["target"] or "-",
         {True: "PASS", False: "FAIL", None: "info"}[r["pass"]])
        for r in rows
    ]
    widths = [max(len(str(col)) for col in column) for column in zip(header, *lines, strict=True)]
    out = []
    for i, line in enumerate([header, *lines]):
        out.append("  ".join(str(col).ljust(w) if j in (0, 2, 3) else str(col).rjust(w)
                             for j, (col, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def merge_results(previous: dict[str, Any], fresh: dict[str, list[Row]]) -> dict[str, Any]:
    """Keep the other modules' rows of the last run, replace those of the modules run now."""
    modules: dict[str, list[str]] = dict(previous.get("modules") or {})
    old_rows: dict[str, Row] = {
        r["name"]: cast(Row, r)
        for r in previous.get("rows") or [] if isinstance(r, dict) and "name" in r
    }
    by_module: dict[str, list[Row]] = {
        m: [old_rows[n] for n in names if n in old_rows] for m, names in modules.items()
    }
    by_module.update(fresh)
    return {
        "rows": [row for m in sorted(by_module) for row in by_module[m]],
        "modules": {m: [r["name"] for r in by_module[m]] for m in sorted(by_module)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these benches (bench_NAME.py); repeatable or a,b")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed, not only when a bench breaks")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    chosen = select(available, args.only)

    fresh: dict[str, list[Row]] = {}
    broken: list[str] = []
    load_before = load_average()
    if load_before is not None and load_before > 0.5:
        print(f"note: load average {load_before:.1f} before the run: other processes compete"
              " for the CPUs and the ratios below may be off", flush=True)
    with tempfile.TemporaryDirectory(prefix="newswatch-bench-") as scratch:
        ctx = BenchContext(repo=REPO, corpora=REPO.parent / "shared" / "corpora",
                           scratch=Path(scratch))
        for name in chosen:
            print(f"== bench_{name}", flush=True)
            started = time.perf_counter()
            fresh[name], ran = run_module(name, ctx)
            if not ran:
                broken.append(name)
            print(f"   {len(fresh[name])} rows in {time.perf_counter() - started:.0f} s",
                  flush=True)

    rows = [row for name in chosen for row in fresh[name]]
    print()
    print(format_table(rows))
    judged = [r for r in rows if r["pass"] is not None]
    print(f"\n{sum(1 for r in judged if r['pass'])} of {len(judged)} targets met")

    previous: dict[str, Any] = {}
    if args.out.exists():
        try:
            previous = json.loads(args.out.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = {}
    result = merge_results(previous if args.only else {}, fresh)
    result["generated"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "platform": platform.platform(), "load_before": load_before}
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")

    missed = any(r["pass"] is False for r in rows)
    return 1 if broken or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
