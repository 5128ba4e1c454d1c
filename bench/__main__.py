"""`just bench`: run every benchmark and print each figure beside its same-run baseline."""

from __future__ import annotations

import os
import platform

from . import ingest


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}"


def main() -> None:
    print(f"machine: {machine()}")
    r = ingest.run()
    print(
        f"hub ingest  {r['ingest_rps']:>10,.0f} records/s  ({r['records']:,} records in {r['batches']} batches; "
        f"verify + chain + apply + cursor per batch, one transaction per fetch of 50)\n"
        f"  baseline  {r['raw_rps']:>10,.0f} records/s  (the same rows into the hub's tables by raw sqlite3.executemany, one transaction)\n"
        f"  ratio     {r['ratio']:>10.1%}  of raw (target for issue 7: at least 25%)\n"
        f"  bare      {r['bare_rps']:>10,.0f} records/s  (application rows alone into a bare table: the baseline of earlier runs)"
    )


main()
