"""`yiwang node backup`: the point's whole state in one archive, taken while it runs — the
database by SQLite's online backup API, its keys, enrolment, secrets, and the material files not
yet confirmed by the hub. Logs are left out.

An older node backup is for a machine that must be rebuilt while the hub is out of reach; with
the hub reachable, a replacement code (`yiwang node enroll`, docs/operations.md) rebuilds the point
from the county's copy with nothing missing. Restoring an archive older than what the point has
already sent would make the point send different batches at the same positions, which the hub
sets aside as forks: docs/operations.md says how to check before restoring.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path

DB = "node.sqlite3"
SKIPPED = ("logs/", "backups/", "node.lock")


def backup(data_dir: Path, out_dir: Path) -> Path:
    """Write ``out_dir/yiwang-node-<UTC time>.tar.gz`` (whole or not at all); return its path."""
    source = data_dir / DB
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: is {data_dir} a node's directory?")
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = datetime.now(UTC)
    path = out_dir / f"yiwang-node-{taken:%Y%m%dT%H%M%SZ}.tar.gz"
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".backup-") as scratch:  # this backup's own: two at once never share a file
        copy = Path(scratch) / DB
        live, target = sqlite3.connect(source), sqlite3.connect(copy)
        try:
            live.backup(target)  # online: one consistent moment while the point goes on working
            up_seq = target.execute("SELECT value FROM meta WHERE key = 'up_seq'").fetchone()
        finally:
            target.close()
            live.close()
        manifest = {
            "kind": "node",
            "taken_at": taken.isoformat(),
            "app_version": installed_version("yiwang"),
            "up_seq": int(up_seq[0]) if up_seq else 0,
        }
        (Path(scratch) / "manifest.json").write_text(json.dumps(manifest, indent=2))
        data, out, temporary = data_dir.resolve(), out_dir.resolve(), Path(scratch).resolve()
        written = temporary / path.name
        fd = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the point's keys
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(Path(scratch) / "manifest.json", arcname="manifest.json")
            tar.add(copy, arcname=DB)
            for file in sorted(data.rglob("*")):
                relative = file.relative_to(data).as_posix()
                earlier = out != data and data in out.parents and out in file.parents  # backups kept inside the directory
                ours = file.name.startswith("yiwang-node-") or any(p.startswith(".backup-") for p in Path(relative).parts)  # (another's at once too)
                if file.is_file() and not file.is_symlink() and not relative.startswith((DB, *SKIPPED)) and not earlier and not ours:
                    tar.add(file, arcname=relative, recursive=False)
        with open(written, "rb") as f:
            os.fsync(f.fileno())
        return _publish(written, path)


def _publish(written: Path, path: Path) -> Path:
    """Give the whole archive its name, never over another backup's of the same second
    (central/backup.py's twin: the packages share no code but the protocol)."""
    for n in itertools.count(1):
        named = path if n == 1 else path.with_name(path.name.replace(".tar.gz", f"-{n}.tar.gz"))
        try:
            os.link(written, named)  # unlike a rename, refused when the name is taken
        except FileExistsError:
            continue
        except OSError:  # no hard links (a FAT-formatted USB drive)
            if named.exists():
                continue
            os.replace(written, named)
        return named
    raise AssertionError("unreachable")
