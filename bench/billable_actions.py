"""Count Temporal Cloud billable actions in workflow histories (supportflow.temporal.billable).

.venv/bin/python -m bench.billable_actions tests/histories/cancel_saga-v3-*.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from supportflow.temporal.billable import count_actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("histories", nargs="+", type=Path, help="history JSON files (one run each)")
    args = parser.parse_args()
    total: Counter[str] = Counter()
    for path in args.histories:
        actions = count_actions(json.loads(path.read_text("utf-8")))
        total += actions
        print(f"{path.name}: {sum(actions.values())} actions  {dict(sorted(actions.items()))}")
    print(f"total: {sum(total.values())} actions  {dict(sorted(total.items()))}")


if __name__ == "__main__":
    main()
