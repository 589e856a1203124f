"""Export benchmark: rows/s and peak RSS per format, for 100,000 patients (and 10,000, to
show that memory does not grow with the export).

Run: .venv/bin/python bench/export.py [--patients 100000]

A SQLite store is filled once (two practices: "big" with --patients rows, "small" with a
tenth of them); each export then runs in a fresh Python process, which reports its own peak
RSS (ru_maxrss). "baseline" is such a process that imports everything an export uses and
exports nothing: the difference is what the export itself costs. The filling runs in a
process of its own too: this one stays small, as a child's ru_maxrss counts the pages it
shared with its parent between fork and exec.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("csv", {"format": "csv"}, "csv"),
    ("jsonl", {"format": "jsonl"}, "jsonl"),
    ("parquet", {"format": "parquet"}, "parquet"),
    ("xlsx", {"format": "xlsx"}, "xlsx"),
    ("fhir ndjson", {"format": "fhir"}, "ndjson"),
    ("fhir bundle", {"format": "fhir", "fhir_bundle": True}, "json"),
    ("csv de-identified", {"format": "csv", "deidentify": True}, "csv"),
    ("parquet de-identified", {"format": "parquet", "deidentify": True}, "parquet"),
    ("fhir de-identified", {"format": "fhir", "deidentify": True}, "ndjson"),
]


def child(url: str, options: dict[str, Any]) -> None:
    """In the fresh process: one export (or none, for the baseline); print the figures."""
    import pyarrow.parquet  # noqa: F401 - the baseline imports what exports import
    import xlsxwriter  # noqa: F401

    from odbridge.export import export
    from odbridge.store.db import create_store_engine

    engine = create_store_engine(url)
    rows, seconds = 0, 0.0
    if options:
        started = time.perf_counter()
        rows = export(engine, username="bench", **options).rows
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))


def fill(url: str, big: int, small: int) -> None:
    """In a process of its own: two practices of synthetic patients."""
    from tests.helpers import fill_store

    from odbridge.store.db import create_store_engine

    engine = create_store_engine(url)
    fill_store(engine, "big", big, seed=1)
    fill_store(engine, "small", small, seed=2)
    engine.dispose()


def run_child(url: str, options: dict[str, Any]) -> dict[str, Any]:
    found = subprocess.run(
        [sys.executable, __file__, "--child", url, json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(found.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("URL", "OPTIONS"), help=argparse.SUPPRESS)
    parser.add_argument("--fill", nargs=3, metavar=("URL", "BIG", "SMALL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], json.loads(args.child[1]))
        return
    if args.fill:
        fill(args.fill[0], int(args.fill[1]), int(args.fill[2]))
        return

    big, small = args.patients, max(args.patients // 10, 1)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite"
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--fill", url, str(big), str(small)], check=True)
        print(
            f"store filled with {big:,} + {small:,} patients in "
            f"{time.perf_counter() - started:.1f} s (SQLite, {folder})"
        )
        baseline = run_child(url, {})
        print(f"baseline process (imports, no export): peak RSS {baseline['peak_mib']:.0f} MiB\n")
        print(
            f"{'format':<22} {'rows':>8} {'seconds':>8} {'rows/s':>9} {'peak RSS':>9} "
            f"{'file':>9}   {'rows':>7} {'peak RSS':>9}"
        )
        for label, options, suffix in CASES:
            figures = []
            for practice, count in (("big", big), ("small", small)):
                out = Path(folder) / f"out.{suffix}"
                found = run_child(
                    url,
                    {
                        **options,
                        "out": str(out),
                        "practice": practice,
                        "key_file": str(Path(folder) / "deid.key"),
                    },
                )
                assert found["rows"] == count, (label, found)
                found["mib"] = out.stat().st_size / 2**20
                figures.append(found)
                out.unlink()
            large, little = figures
            print(
                f"{label:<22} {large['rows']:>8,} {large['seconds']:>8.2f} "
                f"{large['rows'] / large['seconds']:>9,.0f} {large['peak_mib']:>6.0f} MiB "
                f"{large['mib']:>5.1f} MiB   {little['rows']:>7,} {little['peak_mib']:>6.0f} MiB"
            )
        print(
            "\npeak RSS is the whole process (Python, SQLAlchemy, pyarrow included); the "
            "right-hand columns are the same export of a practice ten times smaller."
        )


if __name__ == "__main__":
    main()
