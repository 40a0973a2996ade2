"""Benchmark of paper assembly (组卷): per-candidate papers from a synthetic pool.

Usage: .venv/bin/python ops/bench/assembly.py [--candidates N] [--pool N] [--items N] [--seed S]

Builds a pool of ``--pool`` items over 10 top-level × 3 leaf knowledge points (all types and
difficulties) and a blueprint of ``--items`` items (20 % judge, 60 % single, 20 % multiple,
spread over the 10 top-level knowledge points, with a 30/50/20 difficulty mix), then times
``assemble(mode="per_candidate", count=N)`` in CPU time (best of 3). Prints one JSON object.
Not a pass/fail test: see ops/bench/README.md for the figures of the reference machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examhall.papers.assembly import (  # after the path set-up, so a plain checkout runs too
    Assembly,
    BlueprintSpec,
    PoolItem,
    assemble,
    blueprint_to_doc,
    parse_blueprint,
)

TOP_KPS = 10
LEAVES = 3
TYPE_SHARES = (("judge", 0.25), ("single", 0.55), ("multiple", 0.20))
POINTS = {"judge": Decimal("0.5"), "single": Decimal(1), "multiple": Decimal("1.5")}


def build_pool(size: int, seed: int) -> list[PoolItem]:
    """``size`` items, evenly over the 30 leaves; types 25/55/20 %, difficulties 30/50/20 %
    (drawn independently, from ``seed``)."""
    rng = random.Random(f"bench-pool:{seed}")
    kinds = [kind for kind, _ in TYPE_SHARES]
    kind_weights = [share for _, share in TYPE_SHARES]
    pool: list[PoolItem] = []
    for i in range(size):
        leaf = i % (TOP_KPS * LEAVES)
        code = f"{leaf // LEAVES + 1:02d}"
        kind = rng.choices(kinds, kind_weights)[0]
        pool.append(
            PoolItem(
                revision_id=100_000 + i,
                item_id=i + 1,
                kp_path=(code, f"{code}.{leaf % LEAVES + 1:02d}"),
                type=kind,
                difficulty=rng.choices((1, 2, 3), (0.3, 0.5, 0.2))[0],
                option_count={"judge": 0, "single": 4, "multiple": 5}[kind],
            )
        )
    return pool


def build_blueprint(items: int) -> BlueprintSpec:
    """``items`` items (20/60/20 % judge/single/multiple) over the 10 top-level knowledge points."""
    judge = round(items * 0.2)
    multiple = round(items * 0.2)
    per_type = {"judge": judge, "single": items - judge - multiple, "multiple": multiple}
    rows: list[dict[str, Any]] = [
        {"kp": f"{top:02d}", "judge": 0, "single": 0, "multiple": 0} for top in range(1, TOP_KPS + 1)
    ]
    for kind, total in per_type.items():
        for n in range(total):
            rows[n % TOP_KPS][kind] += 1
    total_points = sum(POINTS[kind] * n for kind, n in per_type.items())
    doc = {
        "format": "examhall-blueprint/1",
        "name": f"bench {items} items",
        "level": 4,
        "duration_minutes": 120,
        "pass_mark": str(total_points * Decimal("0.6")),
        "total_points": str(total_points),
        "sections": [
            {"type": "judge", "title": "判断题", "points_each": str(POINTS["judge"])},
            {"type": "single", "title": "单项选择题", "points_each": str(POINTS["single"])},
            {"type": "multiple", "title": "多项选择题", "points_each": str(POINTS["multiple"])},
        ],
        "rows": rows,
        "difficulty_mix": {1: 0.3, 2: 0.5, 3: 0.2},
    }
    spec = parse_blueprint(doc)
    assert parse_blueprint(blueprint_to_doc(spec)) == spec
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=2000, help="papers to assemble (default 2000)")
    parser.add_argument("--pool", type=int, default=5000, help="items in the pool (default 5000)")
    parser.add_argument("--items", type=int, default=100, help="items per paper (default 100)")
    parser.add_argument("--seed", type=int, default=20240601, help="assembly seed")
    args = parser.parse_args(argv)

    pool = build_pool(args.pool, args.seed)
    spec = build_blueprint(args.items)
    best = float("inf")
    result: Assembly | None = None
    for _ in range(3):
        started = time.process_time()
        result = assemble(spec, pool, mode="per_candidate", count=args.candidates, seed=args.seed)
        best = min(best, time.process_time() - started)
    assert result is not None
    items_per_paper = len(result.papers[0].items)
    assert all(len(p.items) == items_per_paper for p in result.papers)
    print(
        json.dumps(
            {
                "benchmark": "assembly",
                "candidates": args.candidates,
                "pool": args.pool,
                "items_per_paper": items_per_paper,
                "cpu_s": round(best, 4),
                "cpu_ms_per_paper": round(best * 1000 / args.candidates, 4),
                "max_exposure": result.exposure.max_uses,
                "mean_exposure": round(result.exposure.mean_uses, 2),
                "items_used": result.exposure.items_used,
                "python": platform.python_version(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
