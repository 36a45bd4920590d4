"""Throughput and latency of the local understanding engine on held-out messages.

Run: python bench/understanding_bench.py [--limit N]. Exits non-zero only if something crashes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from supportflow.understanding.contract import Context
from supportflow.understanding.corpus import build_corpus
from supportflow.understanding.local import get_local_engine
from supportflow.understanding.splits import split_by_family


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=3000, help="messages to time")
    args = parser.parse_args()

    t0 = time.perf_counter()
    engine = get_local_engine()
    print(f"engine ready in {time.perf_counter() - t0:.2f} s")

    test = split_by_family(build_corpus()).test
    messages = [e.text for e in random.Random(0).sample(test, min(args.limit, len(test)))]
    ctx = Context()
    for m in messages[:50]:  # warm-up: first calls build analyzers and caches
        engine.understand(m, ctx)

    latencies = []
    start = time.perf_counter()
    for m in messages:
        t = time.perf_counter()
        engine.understand(m, ctx)
        latencies.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start

    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"messages: {len(messages)} (held-out test split)")
    print(f"throughput: {len(messages) / total:.0f} messages/s (single thread)")
    print(
        f"latency ms: p50 {statistics.median(latencies):.3f}  p99 {p99:.3f}  "
        f"max {latencies[-1]:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
