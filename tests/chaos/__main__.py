"""The long soak: `just soak` (default 30 minutes, 10 nodes, every third behind a slow link) or
`python -m tests.chaos --minutes 30 --nodes 20 --seed 7 --keep /tmp/soak`.

Prints the summary table and exits 1 on any violation. Data and process logs are kept under
--keep (default: a temporary directory, removed afterwards unless the run failed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .harness import chaos_run, default_nodes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="workload and faults for this long (default 30)")
    parser.add_argument("--nodes", type=int, default=default_nodes(), help="village nodes (default 10, or $YIWANG_CHAOS_NODES)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the federation's data and logs here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="yiwang-soak-"))
    report = chaos_run(root / "fed", args.nodes, args.seed, args.minutes * 60)
    print(report.table())
    if report.violations:
        print(f"\ndata and logs kept in {root}", file=sys.stderr)
        return 1
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


sys.exit(main())
